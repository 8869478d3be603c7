"""The first schema: violations, their requirements, the change log, waivers, decision records.

Revision ID: 0001
Revises:
Create Date: 2026-01-31
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "violations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("item", sa.Text, nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("titles", sa.Text, nullable=False),
        sa.Column("requirements", sa.Text, nullable=False),
        sa.Column("citation", sa.Text, nullable=False),
        sa.Column("basis", sa.Text, nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("enforcement", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=True),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("waiver", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=False), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=False), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=True),
        sa.UniqueConstraint("key", name="uq_violations_key"),
    )
    for column in ("status", "policy", "source", "service", "changed_at"):
        op.create_index(f"ix_violations_{column}", "violations", [column])
    op.create_table(
        "violation_requirements",
        sa.Column("violation_id", sa.Integer, sa.ForeignKey("violations.id"), primary_key=True),
        sa.Column("requirement", sa.Text, primary_key=True),
    )
    op.create_index("ix_violation_requirements_requirement", "violation_requirements", ["requirement"])
    op.create_table(
        "waivers",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approved_by", sa.Text, nullable=False),
        sa.Column("expires", sa.Date, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("revoked_by", sa.Text, nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=False), nullable=True),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("violation_id", sa.Integer, sa.ForeignKey("violations.id"), nullable=True),
        sa.Column("waiver_id", sa.String(128), nullable=True),
        sa.Column("record_id", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("previous", sa.String(16), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
    )
    op.create_index("ix_changes_violation_id", "changes", ["violation_id"])
    op.create_table(
        "record_inputs",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("policy_set_hash", sa.String(64), nullable=False),
        sa.Column("input_hash", sa.String(64), sa.ForeignKey("record_inputs.hash"), nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("hash", name="uq_records_hash"),
    )
    chain_head = op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # The chain starts from a fixed "previous hash" of 64 zeros, record 0.
    op.bulk_insert(chain_head, [{"id": 1, "record_id": 0, "hash": "0" * 64}])


def downgrade() -> None:
    for table in (
        "chain_head",
        "records",
        "record_inputs",
        "changes",
        "waivers",
        "violation_requirements",
        "violations",
    ):
        op.drop_table(table)
