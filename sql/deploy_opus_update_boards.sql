-- OPUS Update Boards, Phase 0: deploy the update infrastructure.
--
-- Adds the 7 update columns to both Monday.com staging tables, and creates MON_UpdateAudit,
-- SP_RollbackBatch and VW_UpdateOperationSummary.
--
-- * Every step is guarded, so running the script again changes nothing.
-- * Every constraint and index is named, so rollback_opus_update_boards.sql can remove it.
-- * No error is caught and printed: an error stops the script, and the runner (opus-sql or
--   pytest --opus-deploy) rolls back every batch of the run.
-- Requires SQL Server 2017 or later (CREATE OR ALTER; the rollback script uses STRING_AGG).

SET NOCOUNT ON;
SET XACT_ABORT ON;
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
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.STG_MON_CustMasterSchedule')
                 AND name = N'IX_STG_MON_CustMasterSchedule_update_batch_id')
BEGIN
    CREATE INDEX IX_STG_MON_CustMasterSchedule_update_batch_id
        ON dbo.STG_MON_CustMasterSchedule (update_batch_id);
    PRINT N'Created index IX_STG_MON_CustMasterSchedule_update_batch_id';
END

IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.STG_MON_CustMasterSchedule_Subitems')
                 AND name = N'IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id')
BEGIN
    CREATE INDEX IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id
        ON dbo.STG_MON_CustMasterSchedule_Subitems (update_batch_id);
    PRINT N'Created index IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id';
END
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

IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND name = N'IX_MON_UpdateAudit_batch_id')
    CREATE INDEX IX_MON_UpdateAudit_batch_id ON dbo.MON_UpdateAudit (batch_id);

IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND name = N'IX_MON_UpdateAudit_monday_item_id')
    CREATE INDEX IX_MON_UpdateAudit_monday_item_id ON dbo.MON_UpdateAudit (monday_item_id);

IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND name = N'IX_MON_UpdateAudit_monday_board_id')
    CREATE INDEX IX_MON_UpdateAudit_monday_board_id ON dbo.MON_UpdateAudit (monday_board_id);

IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.MON_UpdateAudit') AND name = N'IX_MON_UpdateAudit_update_timestamp')
    CREATE INDEX IX_MON_UpdateAudit_update_timestamp ON dbo.MON_UpdateAudit (update_timestamp);
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
PRINT N'OPUS Update Boards Phase 0 deployment complete';
GO
