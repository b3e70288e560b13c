"""On PostgreSQL the audit trail is append-only: the gateway's role may only insert.

- A group role ``isg_gateway`` (NOLOGIN) gets the rights the gateway needs:
  reading and writing its tables, but on ``audit_log`` and
  ``audit_checkpoints`` only SELECT and INSERT. Operators grant it to the
  login the gateway connects as (``GRANT isg_gateway TO gateway_app``); the
  role that runs the migrations (the *operator's* role) owns the tables.
- Triggers refuse UPDATE, DELETE and TRUNCATE on both tables, whoever asks,
  so even the owner cannot edit an entry by mistake. The one way round is the
  operator's pruning (``gateway audit prune``): the function
  ``isg_audit_prune(first_kept)``, which only the owner may run, deletes the
  entries before ``first_kept`` with the trigger told so for that transaction.
- Someone with the database's superuser can still disable triggers: that is
  the attacker the signed checkpoints are for (docs/audit.md).

Creating the role needs CREATEROLE; without it the migration says so (NOTICE)
and goes on: create the role and re-run the grants by hand (docs/operations.md).
SQLite has no roles: nothing changes there.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_TABLES = ("audit_log", "audit_checkpoints")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION isg_audit_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_log'
               AND current_setting('isg.audit_prune', true) = 'on' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    for table in _TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION isg_audit_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION isg_audit_append_only()"
        )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION isg_audit_prune(first_kept bigint) RETURNS bigint
        LANGUAGE plpgsql AS $$
        DECLARE gone bigint;
        BEGIN
            PERFORM set_config('isg.audit_prune', 'on', true);
            DELETE FROM audit_log WHERE seq < first_kept;
            GET DIAGNOSTICS gone = ROW_COUNT;
            PERFORM set_config('isg.audit_prune', 'off', true);
            RETURN gone;
        END $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION isg_audit_prune(bigint) FROM PUBLIC")
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isg_gateway') THEN
                CREATE ROLE isg_gateway NOLOGIN;
            END IF;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'cannot create role isg_gateway: create it and grant it as '
                    'docs/operations.md says';
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database's migration made it meanwhile
        END $$
        """
    )
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isg_gateway') THEN
                EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public'
                    ' TO isg_gateway';
                EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO isg_gateway';
                EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints'
                    ' FROM isg_gateway';
                EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT,'
                    ' UPDATE, DELETE ON TABLES TO isg_gateway';
                EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT'
                    ' ON SEQUENCES TO isg_gateway';
            END IF;
        END $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS isg_audit_append_only()")
    op.execute("DROP FUNCTION IF EXISTS isg_audit_prune(bigint)")
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isg_gateway') THEN
                EXECUTE 'GRANT UPDATE, DELETE ON audit_log, audit_checkpoints TO isg_gateway';
            END IF;
        END $$
        """
    )
