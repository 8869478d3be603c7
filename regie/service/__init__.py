"""Regie as a service: the admission webhook, the evaluation API and the web page (`regie serve`)."""
