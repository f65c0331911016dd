-- opus: confirm-required
-- OPUS Update Boards, Phase 0: roll back the deployment.
--
-- Removes only what the deployment ledger (dbo.OPUS_DeploymentObject) says a deployment created,
-- or what a DBA adopted with adopt_opus_update_boards.sql; everything else stays, and is named in
-- the output. Before anything is dropped, every value it would take with it is copied into a backup
-- tied to this run: every row of dbo.MON_UpdateAudit into dbo.OPUS_BackupAudit, and every non-NULL
-- value of a staged update column, with its row's stg_id and stg_batch_id (the row's identity: an
-- stg_id can be handed out again after a TRUNCATE), into dbo.OPUS_BackupValue.
-- restore_opus_update_boards.sql puts them back after a redeploy.
--
-- * Idempotent: a second run, a half-deployed database and a never-deployed one succeed and say
--   what was skipped. Objects are looked up when each step runs; statements that name a column that
--   may be missing are built at run time (SQL Server compiles a whole batch first, and a missing
--   column fails the batch even in a branch that would not run).
-- * A database deployed by the older scripts has nothing owned: nothing is removed until its
--   objects are adopted.
-- * Run through opus-sql or pytest-opus, the run row may carry a scope (scope_run_id, opus-sql --run N):
--   then only what deploy run N created is removed (pytest's automatic rollback uses this).
-- * The ledger and backup tables are never dropped: they are the record.
--
-- The runner asks for confirmation (opus-sql --confirm); nothing in this file needs editing.
-- Like deploy, it runs all batches in one transaction: an error rolls the rollback back.

SET NOCOUNT ON;
SET XACT_ABORT ON;
GO

-- 0. This run, and what it may remove ---------------------------------------------------------------
CREATE TABLE #opus_remove (
    seq INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    entry_id INT NOT NULL,
    object_type VARCHAR(20) NOT NULL,
    schema_name NVARCHAR(128) NOT NULL,
    table_name NVARCHAR(128) NULL,
    object_name NVARCHAR(128) NOT NULL
);

IF OBJECT_ID(N'dbo.OPUS_DeploymentObject', N'U') IS NULL
    PRINT N'No deployment ledger in this database: pytest-opus deployed nothing here, so nothing is removed '
        + N'(a database deployed by the older scripts: see "Adopting an older deployment" in docs/dba.md)';
ELSE
BEGIN
    IF NOT EXISTS (SELECT 1 FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID)
        INSERT INTO dbo.OPUS_DeploymentRun (script_name, outcome, login_name, host_name, session_id)
        VALUES (N'rollback_opus_update_boards.sql', 'running', SUSER_SNAME(), HOST_NAME(), @@SPID);
    DECLARE @run INT = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
    DECLARE @scope INT = (SELECT scope_run_id FROM dbo.OPUS_DeploymentRun WHERE run_id = @run);
    DECLARE @kept NVARCHAR(MAX);

    -- dependents first: views and procedures, then indexes, the audit table, defaults, columns
    INSERT INTO #opus_remove (entry_id, object_type, schema_name, table_name, object_name)
    SELECT entry_id, object_type, schema_name, table_name, object_name
      FROM dbo.OPUS_DeploymentObject
     WHERE removed_run_id IS NULL AND ownership IN ('created', 'adopted')
       AND (@scope IS NULL OR (run_id = @scope AND ownership = 'created'))
     ORDER BY CASE object_type WHEN 'VIEW' THEN 1 WHEN 'PROCEDURE' THEN 2 WHEN 'INDEX' THEN 3 WHEN 'TABLE' THEN 4
                               WHEN 'DEFAULT' THEN 5 ELSE 6 END, entry_id DESC;

    IF @scope IS NOT NULL
        PRINT CONCAT(N'Rollback limited to what run ', @scope, N' created');
    PRINT CONCAT(N'Ledger: run ', @run, N' may remove ', (SELECT COUNT(*) FROM #opus_remove), N' object(s)');

    SELECT @kept = STRING_AGG(CAST(CONCAT(LOWER(object_type), N' ', schema_name, N'.',
                                          CASE WHEN table_name IS NULL THEN N'' ELSE CONCAT(table_name, N'.') END,
                                          object_name,
                                          CASE WHEN ownership = 'found' THEN CONCAT(N' (found by run ', run_id, N')')
                                               ELSE CONCAT(N' (', ownership, N', outside the scope of run ', @scope, N')') END)
                                   AS NVARCHAR(MAX)), N'; ')
      FROM dbo.OPUS_DeploymentObject
     WHERE removed_run_id IS NULL
       AND (ownership = 'found'
            OR (@scope IS NOT NULL AND NOT (run_id = @scope AND ownership = 'created')));
    IF @kept IS NOT NULL
        PRINT CONCAT(N'Kept, not created by this deployment: ', @kept);
END
GO

-- 1. Keep every audit row of an audit table about to be dropped -------------------------------------
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'TABLE' AND schema_name = N'dbo' AND object_name = N'MON_UpdateAudit')
   AND OBJECT_ID(N'dbo.MON_UpdateAudit', N'U') IS NOT NULL
BEGIN
    DECLARE @run INT = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
    DECLARE @audit_rows INT = (SELECT COUNT(*) FROM dbo.MON_UpdateAudit);
    DECLARE @backed_up INT;
    DECLARE @message NVARCHAR(400);

    INSERT INTO dbo.OPUS_BackupAudit (
        run_id, audit_id, batch_id, update_operation, monday_item_id, monday_board_id, column_id, old_value,
        new_value, update_timestamp, rollback_timestamp, rollback_reason, user_id, source_system,
        api_response_id, error_message)
    SELECT @run, a.audit_id, a.batch_id, a.update_operation, a.monday_item_id, a.monday_board_id, a.column_id,
           a.old_value, a.new_value, a.update_timestamp, a.rollback_timestamp, a.rollback_reason, a.user_id,
           a.source_system, a.api_response_id, a.error_message
      FROM dbo.MON_UpdateAudit AS a;

    SET @backed_up = (SELECT COUNT(*) FROM dbo.OPUS_BackupAudit WHERE run_id = @run);
    IF @backed_up <> @audit_rows
    BEGIN
        SET @message = CONCAT(N'Audit backup incomplete: ', @backed_up, N' of ', @audit_rows,
                              N' rows copied; nothing was removed.');
        THROW 50020, @message, 1;
    END
    PRINT CONCAT(N'Backed up ', @audit_rows, N' audit row(s) to dbo.OPUS_BackupAudit (run ', @run, N')');
END
GO

-- 2. Keep every value of the update columns about to be dropped ---------------------------------------
-- Built at run time: a column named in a static statement must exist when the batch compiles.
DECLARE @run INT;
IF OBJECT_ID(N'dbo.OPUS_DeploymentRun', N'U') IS NOT NULL
    SET @run = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
DECLARE @i INT = 1;
DECLARE @n INT = (SELECT MAX(seq) FROM #opus_remove);
DECLARE @type VARCHAR(20), @schema NVARCHAR(128), @table NVARCHAR(128), @column NVARCHAR(128);
DECLARE @qualified NVARCHAR(300), @copy NVARCHAR(MAX), @check NVARCHAR(MAX);
WHILE @i <= @n
BEGIN
    SELECT @type = object_type, @schema = schema_name, @table = table_name, @column = object_name
      FROM #opus_remove WHERE seq = @i;
    SET @qualified = CONCAT(QUOTENAME(@schema), N'.', QUOTENAME(@table));
    IF @type = 'COLUMN' AND COL_LENGTH(@qualified, @column) IS NOT NULL
    BEGIN
        SET @copy = CONCAT(
            N'INSERT INTO dbo.OPUS_BackupValue (run_id, schema_name, table_name, row_key, row_check, column_name, value) ',
            N'SELECT @run, @schema, @table, stg_id, CAST(stg_batch_id AS NVARCHAR(100)), @column, ',
            N'CAST(', QUOTENAME(@column), N' AS NVARCHAR(MAX)) ',
            N'FROM ', @qualified, N' WHERE ', QUOTENAME(@column), N' IS NOT NULL');
        EXEC sp_executesql @copy, N'@run INT, @schema NVARCHAR(128), @table NVARCHAR(128), @column NVARCHAR(128)',
             @run = @run, @schema = @schema, @table = @table, @column = @column;
        SET @check = CONCAT(
            N'IF (SELECT COUNT(*) FROM ', @qualified, N' WHERE ', QUOTENAME(@column), N' IS NOT NULL) ',
            N'<> (SELECT COUNT(*) FROM dbo.OPUS_BackupValue WHERE run_id = @run AND schema_name = @schema ',
            N'AND table_name = @table AND column_name = @column) ',
            N'THROW 50021, N''Value backup incomplete; nothing was removed.'', 1;');
        EXEC sp_executesql @check, N'@run INT, @schema NVARCHAR(128), @table NVARCHAR(128), @column NVARCHAR(128)',
             @run = @run, @schema = @schema, @table = @table, @column = @column;
    END
    SET @i = @i + 1;
END
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN')
    PRINT CONCAT(N'Backed up ', (SELECT COUNT(*) FROM dbo.OPUS_BackupValue WHERE run_id = @run),
                 N' non-NULL value(s) of the update columns to dbo.OPUS_BackupValue (run ', @run, N')');
GO

-- 3. The view, the procedure, the indexes and the audit table ------------------------------------------
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'VIEW' AND object_name = N'VW_UpdateOperationSummary')
   AND OBJECT_ID(N'dbo.VW_UpdateOperationSummary', N'V') IS NOT NULL
BEGIN
    DROP VIEW dbo.VW_UpdateOperationSummary;
    PRINT N'Dropped view dbo.VW_UpdateOperationSummary';
END

IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'PROCEDURE' AND object_name = N'SP_RollbackBatch')
   AND OBJECT_ID(N'dbo.SP_RollbackBatch', N'P') IS NOT NULL
BEGIN
    DROP PROCEDURE dbo.SP_RollbackBatch;
    PRINT N'Dropped procedure dbo.SP_RollbackBatch';
END

IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'INDEX' AND object_name = N'IX_STG_MON_CustMasterSchedule_update_batch_id')
   AND EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.STG_MON_CustMasterSchedule')
                                          AND name = N'IX_STG_MON_CustMasterSchedule_update_batch_id')
BEGIN
    DROP INDEX IX_STG_MON_CustMasterSchedule_update_batch_id ON dbo.STG_MON_CustMasterSchedule;
    PRINT N'Dropped index IX_STG_MON_CustMasterSchedule_update_batch_id';
END

IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'INDEX' AND object_name = N'IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id')
   AND EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.STG_MON_CustMasterSchedule_Subitems')
                                          AND name = N'IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id')
BEGIN
    DROP INDEX IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id ON dbo.STG_MON_CustMasterSchedule_Subitems;
    PRINT N'Dropped index IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id';
END

-- Indexes on the audit table: an owned index on a found table goes alone; on an owned table, just before it.
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'INDEX' AND object_name = N'IX_MON_UpdateAudit_batch_id')
   AND EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND name = N'IX_MON_UpdateAudit_batch_id')
BEGIN
    DROP INDEX IX_MON_UpdateAudit_batch_id ON dbo.MON_UpdateAudit;
    PRINT N'Dropped index IX_MON_UpdateAudit_batch_id';
END

IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'INDEX' AND object_name = N'IX_MON_UpdateAudit_monday_item_id')
   AND EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND name = N'IX_MON_UpdateAudit_monday_item_id')
BEGIN
    DROP INDEX IX_MON_UpdateAudit_monday_item_id ON dbo.MON_UpdateAudit;
    PRINT N'Dropped index IX_MON_UpdateAudit_monday_item_id';
END

IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'INDEX' AND object_name = N'IX_MON_UpdateAudit_monday_board_id')
   AND EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND name = N'IX_MON_UpdateAudit_monday_board_id')
BEGIN
    DROP INDEX IX_MON_UpdateAudit_monday_board_id ON dbo.MON_UpdateAudit;
    PRINT N'Dropped index IX_MON_UpdateAudit_monday_board_id';
END

IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'INDEX' AND object_name = N'IX_MON_UpdateAudit_update_timestamp')
   AND EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND name = N'IX_MON_UpdateAudit_update_timestamp')
BEGIN
    DROP INDEX IX_MON_UpdateAudit_update_timestamp ON dbo.MON_UpdateAudit;
    PRINT N'Dropped index IX_MON_UpdateAudit_update_timestamp';
END

IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'TABLE' AND object_name = N'MON_UpdateAudit')
   AND OBJECT_ID(N'dbo.MON_UpdateAudit', N'U') IS NOT NULL
BEGIN
    DROP TABLE dbo.MON_UpdateAudit;
    PRINT N'Dropped table dbo.MON_UpdateAudit (its rows are in dbo.OPUS_BackupAudit)';
END
GO

-- 4. Every default constraint on an owned update column, whatever its name -----------------------------
DECLARE @drop_defaults NVARCHAR(MAX);
DECLARE @default_count INT;

SELECT @drop_defaults = STRING_AGG(CAST(CONCAT(N'ALTER TABLE ', QUOTENAME(s.name), N'.', QUOTENAME(t.name),
                                               N' DROP CONSTRAINT ', QUOTENAME(dc.name), N';')
                                        AS NVARCHAR(MAX)), N' '),
       @default_count = COUNT(*)
  FROM sys.default_constraints AS dc
  JOIN sys.tables AS t ON t.object_id = dc.parent_object_id
  JOIN sys.schemas AS s ON s.schema_id = t.schema_id
  JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id
  JOIN #opus_remove AS r ON r.object_type = 'COLUMN' AND r.schema_name = s.name AND r.table_name = t.name
                        AND r.object_name = c.name;

IF @default_count > 0
BEGIN
    EXEC sp_executesql @drop_defaults;
    PRINT CONCAT(N'Dropped ', @default_count, N' default constraint(s) on the update columns');
END
GO

-- 5. The update columns (their values are in dbo.OPUS_BackupValue) ----------------------------------------
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule' AND object_name = N'validation_errors')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'validation_errors') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN validation_errors;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule' AND object_name = N'validation_status')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'validation_status') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN validation_status;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule' AND object_name = N'update_batch_id')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_batch_id') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN update_batch_id;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule' AND object_name = N'source_query')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'source_query') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN source_query;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule' AND object_name = N'source_table')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'source_table') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN source_table;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule' AND object_name = N'update_fields')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_fields') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN update_fields;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule' AND object_name = N'update_operation')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_operation') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN update_operation;

IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule_Subitems' AND object_name = N'validation_errors')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'validation_errors') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN validation_errors;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule_Subitems' AND object_name = N'validation_status')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'validation_status') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN validation_status;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule_Subitems' AND object_name = N'update_batch_id')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_batch_id') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN update_batch_id;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule_Subitems' AND object_name = N'source_query')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'source_query') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN source_query;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule_Subitems' AND object_name = N'source_table')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'source_table') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN source_table;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule_Subitems' AND object_name = N'update_fields')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_fields') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN update_fields;
IF EXISTS (SELECT 1 FROM #opus_remove WHERE object_type = 'COLUMN' AND table_name = N'STG_MON_CustMasterSchedule_Subitems' AND object_name = N'update_operation')
   AND COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_operation') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN update_operation;

DECLARE @columns INT = (SELECT COUNT(*) FROM #opus_remove WHERE object_type = 'COLUMN');
IF @columns > 0
    PRINT CONCAT(N'Removed ', @columns, N' update column(s) of the staging tables (their values are in dbo.OPUS_BackupValue)');
GO

-- 6. The ledger: what this run removed, and the run's end ------------------------------------------------
IF OBJECT_ID(N'dbo.OPUS_DeploymentObject', N'U') IS NOT NULL
BEGIN
    DECLARE @run INT = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
    DECLARE @removed INT;
    UPDATE dbo.OPUS_DeploymentObject SET removed_run_id = @run, removed_utc = SYSUTCDATETIME()
     WHERE entry_id IN (SELECT entry_id FROM #opus_remove);
    SET @removed = @@ROWCOUNT;
    UPDATE dbo.OPUS_DeploymentRun SET outcome = 'committed', finished_utc = SYSUTCDATETIME() WHERE run_id = @run;
    PRINT CONCAT(N'Ledger: run ', @run, N' removed ', @removed, N' object(s)');
    IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'board_id') IS NOT NULL
       OR COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'board_id') IS NOT NULL
        PRINT N'Note: board_id (added by an older deployment, not by this project) was left in place';
END
DROP TABLE #opus_remove;
PRINT N'OPUS Update Boards Phase 0 rollback complete';
GO
