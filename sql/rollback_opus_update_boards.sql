-- opus: confirm-required
-- OPUS Update Boards, Phase 0: roll back the deployment.
--
-- Removes what deploy_opus_update_boards.sql added, in reverse order, after copying every audit row
-- to dbo.MON_UpdateAudit_Backup (created on first use; each rollback appends its rows with the time
-- it was taken). Works on databases deployed by this project and by the older scripts, whose
-- default constraints have system-generated names (DF__...): every default constraint on the
-- update columns is found in sys.default_constraints and dropped by its real name.
-- A `board_id` column that some older deployments added later is not ours and is left in place.
--
-- The runner asks for confirmation (opus-sql --confirm); nothing in this file needs editing.
-- Like deploy, it runs all batches in one transaction: an error rolls the rollback back.

SET NOCOUNT ON;
SET XACT_ABORT ON;
GO

-- 1. Keep every audit row -----------------------------------------------------------------------------
IF OBJECT_ID(N'dbo.MON_UpdateAudit', N'U') IS NOT NULL AND EXISTS (SELECT 1 FROM dbo.MON_UpdateAudit)
BEGIN
    DECLARE @taken DATETIME2 = SYSUTCDATETIME();
    DECLARE @audit_rows INT = (SELECT COUNT(*) FROM dbo.MON_UpdateAudit);
    DECLARE @backed_up INT;
    DECLARE @message NVARCHAR(400);

    IF OBJECT_ID(N'dbo.MON_UpdateAudit_Backup', N'U') IS NULL
    BEGIN
        SELECT CAST(NULL AS DATETIME2) AS backup_taken_at, CAST(a.audit_id AS INT) AS audit_id, a.batch_id,
               a.update_operation, a.monday_item_id, a.monday_board_id, a.column_id, a.old_value, a.new_value,
               a.update_timestamp, a.rollback_timestamp, a.rollback_reason, a.user_id, a.source_system,
               a.api_response_id, a.error_message
          INTO dbo.MON_UpdateAudit_Backup
          FROM dbo.MON_UpdateAudit AS a
         WHERE 1 = 0;
        PRINT N'Created dbo.MON_UpdateAudit_Backup';
    END

    INSERT INTO dbo.MON_UpdateAudit_Backup (
        backup_taken_at, audit_id, batch_id, update_operation, monday_item_id, monday_board_id, column_id,
        old_value, new_value, update_timestamp, rollback_timestamp, rollback_reason, user_id, source_system,
        api_response_id, error_message)
    SELECT @taken, a.audit_id, a.batch_id, a.update_operation, a.monday_item_id, a.monday_board_id,
           a.column_id, a.old_value, a.new_value, a.update_timestamp, a.rollback_timestamp, a.rollback_reason,
           a.user_id, a.source_system, a.api_response_id, a.error_message
      FROM dbo.MON_UpdateAudit AS a;

    SET @backed_up = (SELECT COUNT(*) FROM dbo.MON_UpdateAudit_Backup WHERE backup_taken_at = @taken);
    IF @backed_up <> @audit_rows
    BEGIN
        SET @message = CONCAT(N'Audit backup incomplete: ', @backed_up, N' of ', @audit_rows,
                              N' rows copied; nothing was removed.');
        THROW 50020, @message, 1;
    END
    PRINT CONCAT(N'Backed up ', @audit_rows, N' audit row(s) to dbo.MON_UpdateAudit_Backup');
END
ELSE PRINT N'No audit rows to back up';
GO

-- 2. The view, the procedure and the audit table (created last, removed first) ------------------------
IF OBJECT_ID(N'dbo.VW_UpdateOperationSummary', N'V') IS NOT NULL
BEGIN
    DROP VIEW dbo.VW_UpdateOperationSummary;
    PRINT N'Dropped view dbo.VW_UpdateOperationSummary';
END

IF OBJECT_ID(N'dbo.SP_RollbackBatch', N'P') IS NOT NULL
BEGIN
    DROP PROCEDURE dbo.SP_RollbackBatch;
    PRINT N'Dropped procedure dbo.SP_RollbackBatch';
END

IF OBJECT_ID(N'dbo.MON_UpdateAudit', N'U') IS NOT NULL
BEGIN
    DROP TABLE dbo.MON_UpdateAudit;
    PRINT N'Dropped table dbo.MON_UpdateAudit';
END
GO

-- 3. The batch indexes on the staging tables ------------------------------------------------------------
IF EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.STG_MON_CustMasterSchedule')
                                     AND name = N'IX_STG_MON_CustMasterSchedule_update_batch_id')
BEGIN
    DROP INDEX IX_STG_MON_CustMasterSchedule_update_batch_id ON dbo.STG_MON_CustMasterSchedule;
    PRINT N'Dropped index IX_STG_MON_CustMasterSchedule_update_batch_id';
END

IF EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.STG_MON_CustMasterSchedule_Subitems')
                                     AND name = N'IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id')
BEGIN
    DROP INDEX IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id ON dbo.STG_MON_CustMasterSchedule_Subitems;
    PRINT N'Dropped index IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id';
END
GO

-- 4. Every default constraint on the update columns, whatever its name -------------------------------
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
 WHERE s.name = N'dbo'
   AND t.name IN (N'STG_MON_CustMasterSchedule', N'STG_MON_CustMasterSchedule_Subitems')
   AND c.name IN (N'update_operation', N'update_fields', N'source_table', N'source_query', N'update_batch_id',
                  N'validation_status', N'validation_errors');

IF @default_count > 0
BEGIN
    EXEC sp_executesql @drop_defaults;
    PRINT CONCAT(N'Dropped ', @default_count, N' default constraint(s) on the update columns');
END
GO

-- 5. The update columns on both staging tables ---------------------------------------------------------
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'validation_errors') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN validation_errors;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'validation_status') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN validation_status;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_batch_id') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN update_batch_id;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'source_query') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN source_query;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'source_table') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN source_table;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_fields') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN update_fields;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'update_operation') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN update_operation;
PRINT N'Removed the update columns from dbo.STG_MON_CustMasterSchedule';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'validation_errors') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN validation_errors;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'validation_status') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN validation_status;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_batch_id') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN update_batch_id;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'source_query') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN source_query;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'source_table') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN source_table;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_fields') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN update_fields;
IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'update_operation') IS NOT NULL
    ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems DROP COLUMN update_operation;
PRINT N'Removed the update columns from dbo.STG_MON_CustMasterSchedule_Subitems';

IF COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule', N'board_id') IS NOT NULL
   OR COL_LENGTH(N'dbo.STG_MON_CustMasterSchedule_Subitems', N'board_id') IS NOT NULL
    PRINT N'Note: board_id (added by an older deployment, not by this project) was left in place';

PRINT N'OPUS Update Boards Phase 0 rollback complete';
GO
