-- OPUS Update Boards, Phase 0: put back what a rollback backed up.
--
-- Run it after deploy_opus_update_boards.sql has re-created the objects. It restores the backups
-- of one rollback run: by default the latest run whose backups are not all restored yet; through
-- opus-sql, `--run N` names the rollback run.
--
-- * Values of the update columns (dbo.OPUS_BackupValue) go back into the row with the same stg_id
--   and stg_batch_id (an stg_id handed out again to another row is not that row), where that cell is
--   NULL. A cell that already holds another value is a conflict: it is left as it
--   is, counted, and its backup row stays unrestored. A value whose row no longer exists stays in
--   the backup too.
-- * Audit rows (dbo.OPUS_BackupAudit) go back into dbo.MON_UpdateAudit with their audit_id, unless
--   that audit_id is taken.
-- * Every backup row that was put back is marked with this run (restored_run_id): running the
--   script again restores nothing twice. Nothing is deleted from the backups.
-- Like every script run through the tool, it runs in one transaction: all of it, or nothing.

SET NOCOUNT ON;
SET XACT_ABORT ON;
GO

-- 0. This run, the rollback run to restore, and what must exist first --------------------------------------
CREATE TABLE #opus_restore (source_run_id INT NULL);

IF OBJECT_ID(N'dbo.OPUS_BackupValue', N'U') IS NULL
    PRINT N'No deployment ledger in this database: there is nothing to restore';
ELSE
BEGIN
    IF NOT EXISTS (SELECT 1 FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID)
        INSERT INTO dbo.OPUS_DeploymentRun (script_name, outcome, login_name, host_name, session_id)
        VALUES (N'restore_opus_update_boards.sql', 'running', SUSER_SNAME(), HOST_NAME(), @@SPID);
    DECLARE @run INT = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
    DECLARE @source INT = (SELECT scope_run_id FROM dbo.OPUS_DeploymentRun WHERE run_id = @run);
    DECLARE @message NVARCHAR(2000);
    DECLARE @missing NVARCHAR(MAX);

    IF @source IS NULL
        SET @source = (SELECT MAX(run_id) FROM (
                           SELECT run_id FROM dbo.OPUS_BackupValue WHERE restored_run_id IS NULL
                           UNION ALL
                           SELECT run_id FROM dbo.OPUS_BackupAudit WHERE restored_run_id IS NULL) AS pending);
    INSERT INTO #opus_restore (source_run_id) VALUES (@source);

    IF @source IS NULL
        PRINT N'Nothing to restore: every backup has been restored already';
    ELSE
    BEGIN
        PRINT CONCAT(N'Restoring the backups of rollback run ', @source);
        -- Every column a backup refers to must exist again (deploy re-creates them).
        SELECT @missing = STRING_AGG(CAST(CONCAT(b.schema_name, N'.', b.table_name, N'.', b.column_name) AS NVARCHAR(MAX)), N', ')
          FROM (SELECT DISTINCT schema_name, table_name, column_name FROM dbo.OPUS_BackupValue
                 WHERE run_id = @source AND restored_run_id IS NULL) AS b
         WHERE NOT EXISTS (SELECT 1 FROM INFORMATION_SCHEMA.COLUMNS AS c
                            WHERE c.TABLE_SCHEMA = b.schema_name AND c.TABLE_NAME = b.table_name
                              AND c.COLUMN_NAME = b.column_name);
        IF @missing IS NOT NULL
        BEGIN
            SET @message = CONCAT(N'Cannot restore: these columns do not exist: ', @missing,
                                  N'. Run deploy_opus_update_boards.sql first; nothing was restored.');
            THROW 50030, @message, 1;
        END
        IF EXISTS (SELECT 1 FROM dbo.OPUS_BackupAudit WHERE run_id = @source AND restored_run_id IS NULL)
           AND OBJECT_ID(N'dbo.MON_UpdateAudit', N'U') IS NULL
            THROW 50031, N'Cannot restore: dbo.MON_UpdateAudit does not exist. Run deploy_opus_update_boards.sql first; nothing was restored.', 1;
    END
END
GO

-- 1. The values of the update columns --------------------------------------------------------------------
-- Built at run time, one statement per column: the column names come from the backup.
CREATE TABLE #opus_restore_columns (
    seq INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    schema_name NVARCHAR(128) NOT NULL,
    table_name NVARCHAR(128) NOT NULL,
    column_name NVARCHAR(128) NOT NULL
);
DECLARE @source INT = (SELECT source_run_id FROM #opus_restore);
DECLARE @run INT;
DECLARE @i INT = 1, @n INT;
DECLARE @schema NVARCHAR(128), @table NVARCHAR(128), @column NVARCHAR(128);
DECLARE @sql NVARCHAR(MAX), @params NVARCHAR(400);
DECLARE @pending INT, @restored INT, @orphans INT;
IF @source IS NOT NULL
BEGIN
    SET @run = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
    SET @pending = (SELECT COUNT(*) FROM dbo.OPUS_BackupValue WHERE run_id = @source AND restored_run_id IS NULL);
    INSERT INTO #opus_restore_columns (schema_name, table_name, column_name)
    SELECT DISTINCT schema_name, table_name, column_name FROM dbo.OPUS_BackupValue
     WHERE run_id = @source AND restored_run_id IS NULL;
END
SET @n = (SELECT COUNT(*) FROM #opus_restore_columns);
SET @params = N'@source INT, @run INT, @schema NVARCHAR(128), @table NVARCHAR(128), @column NVARCHAR(128)';
WHILE @i <= @n
BEGIN
    SELECT @schema = schema_name, @table = table_name, @column = column_name FROM #opus_restore_columns WHERE seq = @i;
    -- into the empty cells of the rows that still exist
    SET @sql = CONCAT(
        N'UPDATE t SET ', QUOTENAME(@column), N' = b.value FROM ', QUOTENAME(@schema), N'.', QUOTENAME(@table),
        N' AS t JOIN dbo.OPUS_BackupValue AS b ON b.row_key = t.stg_id',
        N' AND (b.row_check IS NULL OR b.row_check = CAST(t.stg_batch_id AS NVARCHAR(100)))',
        N' WHERE b.run_id = @source AND b.schema_name = @schema AND b.table_name = @table',
        N' AND b.column_name = @column AND b.restored_run_id IS NULL AND t.', QUOTENAME(@column), N' IS NULL');
    EXEC sp_executesql @sql, @params, @source = @source, @run = @run, @schema = @schema, @table = @table, @column = @column;
    -- a backup row counts as restored when its cell now holds exactly its value (compared in binary)
    SET @sql = CONCAT(
        N'UPDATE b SET restored_run_id = @run FROM dbo.OPUS_BackupValue AS b JOIN ', QUOTENAME(@schema), N'.',
        QUOTENAME(@table), N' AS t ON t.stg_id = b.row_key',
        N' AND (b.row_check IS NULL OR b.row_check = CAST(t.stg_batch_id AS NVARCHAR(100)))',
        N' WHERE b.run_id = @source AND b.schema_name = @schema AND b.table_name = @table',
        N' AND b.column_name = @column AND b.restored_run_id IS NULL',
        N' AND CAST(t.', QUOTENAME(@column), N' AS NVARCHAR(MAX)) COLLATE Latin1_General_BIN2 = b.value COLLATE Latin1_General_BIN2');
    EXEC sp_executesql @sql, @params, @source = @source, @run = @run, @schema = @schema, @table = @table, @column = @column;
    SET @i = @i + 1;
END
IF @source IS NOT NULL AND @pending > 0
BEGIN
    SET @restored = (SELECT COUNT(*) FROM dbo.OPUS_BackupValue WHERE run_id = @source AND restored_run_id = @run);
    PRINT CONCAT(N'Restored ', @restored, N' of ', @pending, N' backed-up value(s) of the update columns');
    IF @restored < @pending
        PRINT CONCAT(N'Kept in dbo.OPUS_BackupValue (run ', @source, N'): ', @pending - @restored,
                     N' value(s) whose row is gone or whose cell now holds another value');
END
DROP TABLE #opus_restore_columns;
GO

-- 2. The audit rows -----------------------------------------------------------------------------------
-- Nested IFs: SQL Server compiles a whole IF condition when it runs, and without a ledger
-- dbo.OPUS_BackupAudit does not exist (@source is NULL then).
DECLARE @source INT = (SELECT source_run_id FROM #opus_restore);
IF @source IS NOT NULL
IF EXISTS (SELECT 1 FROM dbo.OPUS_BackupAudit WHERE run_id = @source AND restored_run_id IS NULL)
BEGIN
    DECLARE @run INT = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
    DECLARE @pending INT = (SELECT COUNT(*) FROM dbo.OPUS_BackupAudit WHERE run_id = @source AND restored_run_id IS NULL);
    DECLARE @inserted INT;

    -- the rows whose audit_id is free are this run's to put back; a taken audit_id is a conflict
    UPDATE dbo.OPUS_BackupAudit SET restored_run_id = @run
     WHERE run_id = @source AND restored_run_id IS NULL
       AND audit_id NOT IN (SELECT audit_id FROM dbo.MON_UpdateAudit);

    SET IDENTITY_INSERT dbo.MON_UpdateAudit ON;
    INSERT INTO dbo.MON_UpdateAudit (
        audit_id, batch_id, update_operation, monday_item_id, monday_board_id, column_id, old_value, new_value,
        update_timestamp, rollback_timestamp, rollback_reason, user_id, source_system, api_response_id, error_message)
    SELECT b.audit_id, b.batch_id, b.update_operation, b.monday_item_id, b.monday_board_id, b.column_id, b.old_value,
           b.new_value, b.update_timestamp, b.rollback_timestamp, b.rollback_reason, b.user_id, b.source_system,
           b.api_response_id, b.error_message
      FROM dbo.OPUS_BackupAudit AS b
     WHERE b.run_id = @source AND b.restored_run_id = @run;
    SET @inserted = @@ROWCOUNT;
    SET IDENTITY_INSERT dbo.MON_UpdateAudit OFF;
    PRINT CONCAT(N'Restored ', @inserted, N' of ', @pending, N' audit row(s) into dbo.MON_UpdateAudit');
    IF @inserted < @pending
        PRINT CONCAT(N'Kept in dbo.OPUS_BackupAudit (run ', @source, N'): ', @pending - @inserted,
                     N' audit row(s) whose audit_id is taken');
END
GO

-- 3. The run's end ---------------------------------------------------------------------------------------
IF OBJECT_ID(N'dbo.OPUS_DeploymentRun', N'U') IS NOT NULL
    UPDATE dbo.OPUS_DeploymentRun SET outcome = 'committed', finished_utc = SYSUTCDATETIME()
     WHERE outcome = 'running' AND session_id = @@SPID;
DROP TABLE #opus_restore;
PRINT N'OPUS Update Boards Phase 0 restore complete';
GO
