"""a student's resident ID number (身份证件号), the identity of a registry row without a 学籍号

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('students') as batch:
        batch.add_column(sa.Column('id_number', sa.String(length=18), nullable=True))
        batch.create_unique_constraint(batch.f('uq_students_id_number'), ['id_number'])


def downgrade() -> None:
    with op.batch_alter_table('students') as batch:
        batch.drop_constraint(batch.f('uq_students_id_number'), type_='unique')
        batch.drop_column('id_number')
