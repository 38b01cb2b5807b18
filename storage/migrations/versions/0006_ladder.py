"""the ladder as the law has it: whether the authorities were told of child labour or early marriage found by a
persuasion attempt; watch items for repeated truancy and piling excused days

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('persuasion_attempts') as batch:
        batch.add_column(sa.Column('authorities_told', sa.Boolean(), nullable=True))
    op.create_table(
        'watch_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('school_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('raised_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_watch_items_school_id_schools')),
        sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_watch_items_student_id_students')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_watch_items')),
        sa.UniqueConstraint('student_id', 'kind', 'month', name=op.f('uq_watch_items_student_id_kind_month')),
    )
    op.create_index(op.f('ix_watch_items_school_id'), 'watch_items', ['school_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_watch_items_school_id'), table_name='watch_items')
    op.drop_table('watch_items')
    with op.batch_alter_table('persuasion_attempts') as batch:
        batch.drop_column('authorities_told')
