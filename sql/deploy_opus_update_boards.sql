-- OPUS Update Boards, Phase 0: deploy the update infrastructure.
--
-- Adds the 7 update columns to both Monday.com staging tables, and creates MON_UpdateAudit,
-- SP_RollbackBatch and VW_UpdateOperationSummary.
--
-- * Every step is guarded, so running the script again changes nothing.
-- * Every constraint and index is named, so rollback_opus_update_boards.sql can remove it. An index
--   that already exists on the same column under another name (the older scripts' names, such as
--   IX_MON_UpdateAudit_BatchId) counts as present: no duplicate is created.
-- * No error is caught and printed: an error stops the script, and the runner (opus-sql or
--   pytest --opus-deploy) rolls back every batch of the run.
-- * The deployment ledger (dbo.OPUS_DeploymentRun, dbo.OPUS_DeploymentObject) records this run and
--   every object it created; objects that were already there are recorded as "found". Rollback
--   removes only what the ledger says a deployment created. Run with sqlcmd, use -b (stop at the
--   first error): an object created by a run that stopped midway has no ledger row, so the next run
--   records it as found and no rollback ever removes it.
-- Requires SQL Server 2017 or later (CREATE OR ALTER; the rollback script uses STRING_AGG).

SET NOCOUNT ON;
SET XACT_ABORT ON;
GO

-- 0. The ledger, this run's row, and what was already there ----------------------------------------
IF OBJECT_ID(N'dbo.OPUS_DeploymentRun', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.OPUS_DeploymentRun (
        run_id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_OPUS_DeploymentRun PRIMARY KEY,
        run_token VARCHAR(36) NULL,
        script_name NVARCHAR(260) NOT NULL,
        script_sha256 CHAR(64) NULL,
        started_utc DATETIME2 NOT NULL CONSTRAINT DF_OPUS_DeploymentRun_started_utc DEFAULT (SYSUTCDATETIME()),
        finished_utc DATETIME2 NULL,
        outcome VARCHAR(20) NOT NULL,
        login_name NVARCHAR(128) NULL,
        host_name NVARCHAR(128) NULL,
        os_user NVARCHAR(128) NULL,
        tool_version VARCHAR(50) NULL,
        session_id INT NULL,
        scope_run_id INT NULL,
        detail NVARCHAR(MAX) NULL
    );
    PRINT N'Created the ledger table dbo.OPUS_DeploymentRun';
END

IF OBJECT_ID(N'dbo.OPUS_DeploymentObject', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.OPUS_DeploymentObject (
        entry_id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_OPUS_DeploymentObject PRIMARY KEY,
        run_id INT NOT NULL,
        object_type VARCHAR(20) NOT NULL,
        schema_name NVARCHAR(128) NOT NULL,
        table_name NVARCHAR(128) NULL,
        object_name NVARCHAR(128) NOT NULL,
        ownership VARCHAR(10) NOT NULL,
        adopted_run_id INT NULL,
        removed_run_id INT NULL,
        removed_utc DATETIME2 NULL
    );
    PRINT N'Created the ledger table dbo.OPUS_DeploymentObject';
END

IF OBJECT_ID(N'dbo.OPUS_BackupValue', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.OPUS_BackupValue (
        backup_id BIGINT IDENTITY(1,1) NOT NULL CONSTRAINT PK_OPUS_BackupValue PRIMARY KEY,
        run_id INT NOT NULL,
        schema_name NVARCHAR(128) NOT NULL,
        table_name NVARCHAR(128) NOT NULL,
        row_key BIGINT NOT NULL,
        row_check NVARCHAR(100) NULL,
        column_name NVARCHAR(128) NOT NULL,
        value NVARCHAR(MAX) NOT NULL,
        restored_run_id INT NULL
    );
    PRINT N'Created the ledger table dbo.OPUS_BackupValue';
END

IF OBJECT_ID(N'dbo.OPUS_BackupAudit', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.OPUS_BackupAudit (
        run_id INT NOT NULL,
        audit_id INT NOT NULL,
        batch_id VARCHAR(50) NOT NULL,
        update_operation VARCHAR(50) NOT NULL,
        monday_item_id BIGINT NULL,
        monday_board_id BIGINT NULL,
        column_id VARCHAR(100) NULL,
        old_value NVARCHAR(MAX) NULL,
        new_value NVARCHAR(MAX) NULL,
        update_timestamp DATETIME2 NULL,
        rollback_timestamp DATETIME2 NULL,
        rollback_reason NVARCHAR(500) NULL,
        user_id VARCHAR(100) NULL,
        source_system VARCHAR(50) NULL,
        api_response_id VARCHAR(100) NULL,
        error_message NVARCHAR(MAX) NULL,
        restored_run_id INT NULL,
        CONSTRAINT PK_OPUS_BackupAudit PRIMARY KEY (run_id, audit_id)
    );
    PRINT N'Created the ledger table dbo.OPUS_BackupAudit';
END

-- opus-sql and pytest-opus open this run's row before the first batch (with the script's checksum);
-- run any other way, the script opens it here.
IF NOT EXISTS (SELECT 1 FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID)
    INSERT INTO dbo.OPUS_DeploymentRun (script_name, outcome, login_name, host_name, session_id)
    VALUES (N'deploy_opus_update_boards.sql', 'running', SUSER_SNAME(), HOST_NAME(), @@SPID);

-- Every object this script may create. What is present now is "found"; what is present at the end
-- and was not found is "created" by this run (batch 7).
CREATE TABLE #opus_deploy_objects (
    object_type VARCHAR(20) NOT NULL,
    schema_name NVARCHAR(128) NOT NULL,
    table_name NVARCHAR(128) NULL,
    object_name NVARCHAR(128) NOT NULL
);
INSERT INTO #opus_deploy_objects (object_type, schema_name, table_name, object_name) VALUES
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule', N'update_operation'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule', N'update_fields'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule', N'source_table'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule', N'source_query'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule', N'update_batch_id'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule', N'validation_status'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule', N'validation_errors'),
    ('DEFAULT', N'dbo', N'STG_MON_CustMasterSchedule', N'DF_STG_MON_CustMasterSchedule_update_operation'),
    ('DEFAULT', N'dbo', N'STG_MON_CustMasterSchedule', N'DF_STG_MON_CustMasterSchedule_validation_status'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'update_operation'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'update_fields'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'source_table'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'source_query'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'update_batch_id'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'validation_status'),
    ('COLUMN', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'validation_errors'),
    ('DEFAULT', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'DF_STG_MON_CustMasterSchedule_Subitems_update_operation'),
    ('DEFAULT', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'DF_STG_MON_CustMasterSchedule_Subitems_validation_status'),
    ('INDEX', N'dbo', N'STG_MON_CustMasterSchedule', N'IX_STG_MON_CustMasterSchedule_update_batch_id'),
    ('INDEX', N'dbo', N'STG_MON_CustMasterSchedule_Subitems', N'IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id'),
    ('TABLE', N'dbo', NULL, N'MON_UpdateAudit'),
    ('INDEX', N'dbo', N'MON_UpdateAudit', N'IX_MON_UpdateAudit_batch_id'),
    ('INDEX', N'dbo', N'MON_UpdateAudit', N'IX_MON_UpdateAudit_monday_item_id'),
    ('INDEX', N'dbo', N'MON_UpdateAudit', N'IX_MON_UpdateAudit_monday_board_id'),
    ('INDEX', N'dbo', N'MON_UpdateAudit', N'IX_MON_UpdateAudit_update_timestamp'),
    ('PROCEDURE', N'dbo', NULL, N'SP_RollbackBatch'),
    ('VIEW', N'dbo', NULL, N'VW_UpdateOperationSummary');

DECLARE @run INT = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
INSERT INTO dbo.OPUS_DeploymentObject (run_id, object_type, schema_name, table_name, object_name, ownership)
SELECT @run, o.object_type, o.schema_name, o.table_name, o.object_name, 'found'
  FROM #opus_deploy_objects AS o
 WHERE (   (o.object_type = 'COLUMN' AND EXISTS (
               SELECT 1 FROM INFORMATION_SCHEMA.COLUMNS AS c
                WHERE c.TABLE_SCHEMA = o.schema_name AND c.TABLE_NAME = o.table_name AND c.COLUMN_NAME = o.object_name))
        OR (o.object_type IN ('TABLE', 'VIEW', 'PROCEDURE') AND EXISTS (
               SELECT 1 FROM sys.objects AS so JOIN sys.schemas AS s ON s.schema_id = so.schema_id
                WHERE s.name = o.schema_name AND so.name = o.object_name
                  AND so.type = CASE o.object_type WHEN 'TABLE' THEN 'U' WHEN 'VIEW' THEN 'V' ELSE 'P' END))
        OR (o.object_type = 'INDEX' AND EXISTS (
               SELECT 1 FROM sys.indexes AS i
                 JOIN sys.objects AS so ON so.object_id = i.object_id
                 JOIN sys.schemas AS s ON s.schema_id = so.schema_id
                WHERE s.name = o.schema_name AND so.name = o.table_name AND i.name = o.object_name))
        OR (o.object_type = 'DEFAULT' AND EXISTS (
               SELECT 1 FROM sys.default_constraints AS d JOIN sys.schemas AS s ON s.schema_id = d.schema_id
                WHERE s.name = o.schema_name AND d.name = o.object_name)))
   AND NOT EXISTS (
       SELECT 1 FROM dbo.OPUS_DeploymentObject AS l
        WHERE l.removed_run_id IS NULL AND l.object_type = o.object_type AND l.schema_name = o.schema_name
          AND ISNULL(l.table_name, N'') = ISNULL(o.table_name, N'') AND l.object_name = o.object_name);
DECLARE @found INT = @@ROWCOUNT;
IF @found > 0
    PRINT CONCAT(N'Ledger: ', @found, N' object(s) already present recorded as found (not owned: rollback keeps them)');
GO

-- 1. The update columns on dbo.STG_MON_CustMasterSchedule ------------------------------------------
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_operation') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD update_operation VARCHAR(50) NULL
        CONSTRAINT DF_STG_MON_CustMasterSchedule_update_operation DEFAULT ('CREATE');
    PRINT N'Added dbo.STG_MON_CustMasterSchedule.update_operation';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule.update_operation already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_fields') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD update_fields NVARCHAR(MAX) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule.update_fields';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule.update_fields already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'source_table') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD source_table VARCHAR(100) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule.source_table';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule.source_table already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'source_query') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD source_query NVARCHAR(MAX) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule.source_query';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule.source_query already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_batch_id') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD update_batch_id VARCHAR(50) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule.update_batch_id';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule.update_batch_id already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'validation_status') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD validation_status VARCHAR(20) NULL
        CONSTRAINT DF_STG_MON_CustMasterSchedule_validation_status DEFAULT ('PENDING');
    PRINT N'Added dbo.STG_MON_CustMasterSchedule.validation_status';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule.validation_status already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'validation_errors') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD validation_errors NVARCHAR(MAX) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule.validation_errors';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule.validation_errors already present';
GO

-- 2. The same columns on dbo.STG_MON_CustMasterSchedule_Subitems --------------------------------
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_operation') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD update_operation VARCHAR(50) NULL
        CONSTRAINT DF_STG_MON_CustMasterSchedule_Subitems_update_operation DEFAULT ('CREATE');
    PRINT N'Added dbo.STG_MON_CustMasterSchedule_Subitems.update_operation';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule_Subitems.update_operation already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_fields') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD update_fields NVARCHAR(MAX) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule_Subitems.update_fields';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule_Subitems.update_fields already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'source_table') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD source_table VARCHAR(100) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule_Subitems.source_table';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule_Subitems.source_table already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'source_query') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD source_query NVARCHAR(MAX) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule_Subitems.source_query';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule_Subitems.source_query already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_batch_id') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD update_batch_id VARCHAR(50) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule_Subitems.update_batch_id';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule_Subitems.update_batch_id already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'validation_status') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD validation_status VARCHAR(20) NULL
        CONSTRAINT DF_STG_MON_CustMasterSchedule_Subitems_validation_status DEFAULT ('PENDING');
    PRINT N'Added dbo.STG_MON_CustMasterSchedule_Subitems.validation_status';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule_Subitems.validation_status already present';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'validation_errors') IS NULL
BEGIN
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD validation_errors NVARCHAR(MAX) NULL;
    PRINT N'Added dbo.STG_MON_CustMasterSchedule_Subitems.validation_errors';
END
ELSE PRINT N'dbo.STG_MON_CustMasterSchedule_Subitems.validation_errors already present';
GO

-- 3. Batch lookups on the staging tables (validation and rollback work batch by batch) ---------
-- An index counts as present when one with the same single key column and uniqueness exists,
-- whatever its name.
DECLARE @existing NVARCHAR(128);
SET @existing = NULL;
SELECT @existing = i.name
  FROM sys.indexes AS i
  JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
  JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE i.object_id = OBJECT_ID(N'dbo.STG_MON_CustMasterSchedule') AND i.is_unique = 0 AND c.name = N'update_batch_id'
   AND NOT EXISTS (SELECT 1 FROM sys.index_columns AS k
                    WHERE k.object_id = i.object_id AND k.index_id = i.index_id AND k.key_ordinal = 2);
IF @existing IS NULL
BEGIN
    CREATE INDEX IX_STG_MON_CustMasterSchedule_update_batch_id ON dbo.STG_MON_CustMasterSchedule (update_batch_id);
    PRINT N'Created index IX_STG_MON_CustMasterSchedule_update_batch_id';
END
ELSE IF @existing <> N'IX_STG_MON_CustMasterSchedule_update_batch_id'
    PRINT CONCAT(N'Index on dbo.STG_MON_CustMasterSchedule (update_batch_id) already present as ', @existing, N'; no duplicate created');

SET @existing = NULL;
SELECT @existing = i.name
  FROM sys.indexes AS i
  JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
  JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE i.object_id = OBJECT_ID(N'dbo.STG_MON_CustMasterSchedule_Subitems') AND i.is_unique = 0 AND c.name = N'update_batch_id'
   AND NOT EXISTS (SELECT 1 FROM sys.index_columns AS k
                    WHERE k.object_id = i.object_id AND k.index_id = i.index_id AND k.key_ordinal = 2);
IF @existing IS NULL
BEGIN
    CREATE INDEX IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id ON dbo.STG_MON_CustMasterSchedule_Subitems (update_batch_id);
    PRINT N'Created index IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id';
END
ELSE IF @existing <> N'IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id'
    PRINT CONCAT(N'Index on dbo.STG_MON_CustMasterSchedule_Subitems (update_batch_id) already present as ', @existing, N'; no duplicate created');
GO

-- 4. The audit trail ------------------------------------------------------------------------------
IF OBJECT_ID(N'dbo.MON_UpdateAudit', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.MON_UpdateAudit (
        audit_id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_MON_UpdateAudit PRIMARY KEY,
        batch_id VARCHAR(50) NOT NULL,
        update_operation VARCHAR(50) NOT NULL,
        monday_item_id BIGINT NULL,
        monday_board_id BIGINT NULL,
        column_id VARCHAR(100) NULL,
        old_value NVARCHAR(MAX) NULL,
        new_value NVARCHAR(MAX) NULL,
        update_timestamp DATETIME2 NULL
            CONSTRAINT DF_MON_UpdateAudit_update_timestamp DEFAULT (SYSUTCDATETIME()),
        rollback_timestamp DATETIME2 NULL,
        rollback_reason NVARCHAR(500) NULL,
        user_id VARCHAR(100) NULL,
        source_system VARCHAR(50) NULL
            CONSTRAINT DF_MON_UpdateAudit_source_system DEFAULT ('OPUS_UPDATE_BOARDS'),
        api_response_id VARCHAR(100) NULL,
        error_message NVARCHAR(MAX) NULL
    );
    PRINT N'Created table dbo.MON_UpdateAudit';
END
ELSE PRINT N'dbo.MON_UpdateAudit already present';

DECLARE @existing NVARCHAR(128);
SET @existing = NULL;
SELECT @existing = i.name
  FROM sys.indexes AS i
  JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
  JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE i.object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND i.is_unique = 0 AND c.name = N'batch_id'
   AND NOT EXISTS (SELECT 1 FROM sys.index_columns AS k
                    WHERE k.object_id = i.object_id AND k.index_id = i.index_id AND k.key_ordinal = 2);
IF @existing IS NULL
BEGIN
    CREATE INDEX IX_MON_UpdateAudit_batch_id ON dbo.MON_UpdateAudit (batch_id);
    PRINT N'Created index IX_MON_UpdateAudit_batch_id';
END
ELSE IF @existing <> N'IX_MON_UpdateAudit_batch_id'
    PRINT CONCAT(N'Index on dbo.MON_UpdateAudit (batch_id) already present as ', @existing, N'; no duplicate created');

SET @existing = NULL;
SELECT @existing = i.name
  FROM sys.indexes AS i
  JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
  JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE i.object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND i.is_unique = 0 AND c.name = N'monday_item_id'
   AND NOT EXISTS (SELECT 1 FROM sys.index_columns AS k
                    WHERE k.object_id = i.object_id AND k.index_id = i.index_id AND k.key_ordinal = 2);
IF @existing IS NULL
BEGIN
    CREATE INDEX IX_MON_UpdateAudit_monday_item_id ON dbo.MON_UpdateAudit (monday_item_id);
    PRINT N'Created index IX_MON_UpdateAudit_monday_item_id';
END
ELSE IF @existing <> N'IX_MON_UpdateAudit_monday_item_id'
    PRINT CONCAT(N'Index on dbo.MON_UpdateAudit (monday_item_id) already present as ', @existing, N'; no duplicate created');

SET @existing = NULL;
SELECT @existing = i.name
  FROM sys.indexes AS i
  JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
  JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE i.object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND i.is_unique = 0 AND c.name = N'monday_board_id'
   AND NOT EXISTS (SELECT 1 FROM sys.index_columns AS k
                    WHERE k.object_id = i.object_id AND k.index_id = i.index_id AND k.key_ordinal = 2);
IF @existing IS NULL
BEGIN
    CREATE INDEX IX_MON_UpdateAudit_monday_board_id ON dbo.MON_UpdateAudit (monday_board_id);
    PRINT N'Created index IX_MON_UpdateAudit_monday_board_id';
END
ELSE IF @existing <> N'IX_MON_UpdateAudit_monday_board_id'
    PRINT CONCAT(N'Index on dbo.MON_UpdateAudit (monday_board_id) already present as ', @existing, N'; no duplicate created');

SET @existing = NULL;
SELECT @existing = i.name
  FROM sys.indexes AS i
  JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
  JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE i.object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND i.is_unique = 0 AND c.name = N'update_timestamp'
   AND NOT EXISTS (SELECT 1 FROM sys.index_columns AS k
                    WHERE k.object_id = i.object_id AND k.index_id = i.index_id AND k.key_ordinal = 2);
IF @existing IS NULL
BEGIN
    CREATE INDEX IX_MON_UpdateAudit_update_timestamp ON dbo.MON_UpdateAudit (update_timestamp);
    PRINT N'Created index IX_MON_UpdateAudit_update_timestamp';
END
ELSE IF @existing <> N'IX_MON_UpdateAudit_update_timestamp'
    PRINT CONCAT(N'Index on dbo.MON_UpdateAudit (update_timestamp) already present as ', @existing, N'; no duplicate created');
PRINT N'Indexes on dbo.MON_UpdateAudit in place';
GO

-- 5. Rolling back a batch: marks its audit rows and staged rows, in one transaction ---------------
CREATE OR ALTER PROCEDURE dbo.SP_RollbackBatch
    @batch_id VARCHAR(50),
    @rollback_reason NVARCHAR(500)
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    DECLARE @message NVARCHAR(400);
    DECLARE @audit_rows INT = 0, @item_rows INT = 0, @subitem_rows INT = 0;

    IF @batch_id IS NULL OR LTRIM(RTRIM(@batch_id)) = ''
        THROW 50010, N'SP_RollbackBatch: @batch_id is required.', 1;
    IF @rollback_reason IS NULL OR LTRIM(RTRIM(@rollback_reason)) = N''
        THROW 50011, N'SP_RollbackBatch: @rollback_reason is required.', 1;
    IF NOT EXISTS (SELECT 1 FROM dbo.MON_UpdateAudit WHERE batch_id = @batch_id)
       AND NOT EXISTS (SELECT 1 FROM dbo.STG_MON_CustMasterSchedule WHERE update_batch_id = @batch_id)
       AND NOT EXISTS (SELECT 1 FROM dbo.STG_MON_CustMasterSchedule_Subitems WHERE update_batch_id = @batch_id)
    BEGIN
        SET @message = CONCAT(N'SP_RollbackBatch: no audit or staged rows for batch ', @batch_id, N'.');
        THROW 50012, @message, 1;
    END

    BEGIN TRY
        BEGIN TRANSACTION;

        UPDATE dbo.MON_UpdateAudit
           SET rollback_timestamp = SYSUTCDATETIME(), rollback_reason = @rollback_reason
         WHERE batch_id = @batch_id AND rollback_timestamp IS NULL;
        SET @audit_rows = @@ROWCOUNT;

        UPDATE dbo.STG_MON_CustMasterSchedule
           SET validation_status = 'ROLLED_BACK'
         WHERE update_batch_id = @batch_id AND ISNULL(validation_status, '') <> 'ROLLED_BACK';
        SET @item_rows = @@ROWCOUNT;

        UPDATE dbo.STG_MON_CustMasterSchedule_Subitems
           SET validation_status = 'ROLLED_BACK'
         WHERE update_batch_id = @batch_id AND ISNULL(validation_status, '') <> 'ROLLED_BACK';
        SET @subitem_rows = @@ROWCOUNT;

        COMMIT TRANSACTION;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH

    SELECT @batch_id AS batch_id,
           @audit_rows AS audit_rows_rolled_back,
           @item_rows AS item_rows_rolled_back,
           @subitem_rows AS subitem_rows_rolled_back;
END
GO
PRINT N'Procedure dbo.SP_RollbackBatch in place';
GO

-- 6. One row per batch, operation and board ------------------------------------------------------
CREATE OR ALTER VIEW dbo.VW_UpdateOperationSummary
AS
SELECT a.batch_id,
       a.update_operation,
       a.monday_board_id,
       COUNT(*) AS total_updates,
       SUM(CASE WHEN a.rollback_timestamp IS NULL THEN 1 ELSE 0 END) AS active_updates,
       SUM(CASE WHEN a.rollback_timestamp IS NOT NULL THEN 1 ELSE 0 END) AS rolled_back_updates,
       MIN(a.update_timestamp) AS batch_start_time,
       MAX(a.update_timestamp) AS batch_end_time,
       SUM(CASE WHEN a.error_message IS NOT NULL THEN 1 ELSE 0 END) AS error_count
FROM dbo.MON_UpdateAudit AS a
GROUP BY a.batch_id, a.update_operation, a.monday_board_id;
GO
PRINT N'View dbo.VW_UpdateOperationSummary in place';
GO

-- 7. The ledger: what this run created, and the run's end ---------------------------------------
DECLARE @run INT = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
INSERT INTO dbo.OPUS_DeploymentObject (run_id, object_type, schema_name, table_name, object_name, ownership)
SELECT @run, o.object_type, o.schema_name, o.table_name, o.object_name, 'created'
  FROM #opus_deploy_objects AS o
 WHERE (   (o.object_type = 'COLUMN' AND EXISTS (
               SELECT 1 FROM INFORMATION_SCHEMA.COLUMNS AS c
                WHERE c.TABLE_SCHEMA = o.schema_name AND c.TABLE_NAME = o.table_name AND c.COLUMN_NAME = o.object_name))
        OR (o.object_type IN ('TABLE', 'VIEW', 'PROCEDURE') AND EXISTS (
               SELECT 1 FROM sys.objects AS so JOIN sys.schemas AS s ON s.schema_id = so.schema_id
                WHERE s.name = o.schema_name AND so.name = o.object_name
                  AND so.type = CASE o.object_type WHEN 'TABLE' THEN 'U' WHEN 'VIEW' THEN 'V' ELSE 'P' END))
        OR (o.object_type = 'INDEX' AND EXISTS (
               SELECT 1 FROM sys.indexes AS i
                 JOIN sys.objects AS so ON so.object_id = i.object_id
                 JOIN sys.schemas AS s ON s.schema_id = so.schema_id
                WHERE s.name = o.schema_name AND so.name = o.table_name AND i.name = o.object_name))
        OR (o.object_type = 'DEFAULT' AND EXISTS (
               SELECT 1 FROM sys.default_constraints AS d JOIN sys.schemas AS s ON s.schema_id = d.schema_id
                WHERE s.name = o.schema_name AND d.name = o.object_name)))
   AND NOT EXISTS (
       SELECT 1 FROM dbo.OPUS_DeploymentObject AS l
        WHERE l.removed_run_id IS NULL AND l.object_type = o.object_type AND l.schema_name = o.schema_name
          AND ISNULL(l.table_name, N'') = ISNULL(o.table_name, N'') AND l.object_name = o.object_name);
DECLARE @created INT = @@ROWCOUNT;
PRINT CONCAT(N'Ledger: run ', @run, N' created ', @created, N' object(s)');

UPDATE dbo.OPUS_DeploymentRun SET outcome = 'committed', finished_utc = SYSUTCDATETIME() WHERE run_id = @run;
DROP TABLE #opus_deploy_objects;
PRINT N'OPUS Update Boards Phase 0 deployment complete';
GO
