"""contacts and county scope: a county officer's role names its county; the school's office phone, the township's issuer name and office phone, shown in their documents

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('schools') as batch:
        batch.add_column(sa.Column('office_phone', sa.String(length=30), nullable=True))
    with op.batch_alter_table('townships') as batch:
        batch.add_column(sa.Column('issuer_name', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('office_phone', sa.String(length=30), nullable=True))
    with op.batch_alter_table('staff_roles') as batch:
        batch.add_column(sa.Column('county_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_staff_roles_county_id'), ['county_id'])
        batch.create_foreign_key(batch.f('fk_staff_roles_county_id_counties'), 'counties', ['county_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('staff_roles') as batch:
        batch.drop_constraint(batch.f('fk_staff_roles_county_id_counties'), type_='foreignkey')
        batch.drop_index(batch.f('ix_staff_roles_county_id'))
        batch.drop_column('county_id')
    with op.batch_alter_table('townships') as batch:
        batch.drop_column('office_phone')
        batch.drop_column('issuer_name')
    with op.batch_alter_table('schools') as batch:
        batch.drop_column('office_phone')
