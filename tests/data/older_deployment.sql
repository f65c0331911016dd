-- A database as the older OPUS scripts left it (test data, not a deployment script).
--
-- Runs on a baseline sandbox (sql/baseline/) and reproduces what CONTEXT.md describes of databases
-- deployed by the first implementation:
-- * the 7 update columns on both staging tables, added with UNNAMED defaults, so the server names
--   the constraints itself (DF__<table>__<column>__<hex>; the sandbox makes names of that shape);
-- * an 8th column, board_id BIGINT, added to both staging tables later;
-- * MON_UpdateAudit with its 15 columns and 4 indexes, its defaults unnamed too and "UTC now"
--   spelled GETUTCDATE(); SP_RollbackBatch and VW_UpdateOperationSummary as deploy defines them;
-- * no IX_<staging table>_update_batch_id indexes: only this project's deploy creates those.
-- Nothing is guarded: it is meant for a fresh baseline copy.

ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD update_operation VARCHAR(50) NULL DEFAULT ('CREATE');
ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD update_fields NVARCHAR(MAX) NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD source_table VARCHAR(100) NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD source_query NVARCHAR(MAX) NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD update_batch_id VARCHAR(50) NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD validation_status VARCHAR(20) NULL DEFAULT ('PENDING');
ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD validation_errors NVARCHAR(MAX) NULL;
GO

ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD update_operation VARCHAR(50) NULL DEFAULT ('CREATE');
ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD update_fields NVARCHAR(MAX) NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD source_table VARCHAR(100) NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD source_query NVARCHAR(MAX) NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD update_batch_id VARCHAR(50) NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD validation_status VARCHAR(20) NULL DEFAULT ('PENDING');
ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD validation_errors NVARCHAR(MAX) NULL;
GO

-- added by a later script of the first implementation
ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD board_id BIGINT NULL;
ALTER TABLE dbo.STG_MON_CustMasterSchedule_Subitems ADD board_id BIGINT NULL;
GO

CREATE TABLE dbo.MON_UpdateAudit (
    audit_id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_MON_UpdateAudit PRIMARY KEY,
    batch_id VARCHAR(50) NOT NULL,
    update_operation VARCHAR(50) NOT NULL,
    monday_item_id BIGINT NULL,
    monday_board_id BIGINT NULL,
    column_id VARCHAR(100) NULL,
    old_value NVARCHAR(MAX) NULL,
    new_value NVARCHAR(MAX) NULL,
    update_timestamp DATETIME2 NULL DEFAULT (GETUTCDATE()),
    rollback_timestamp DATETIME2 NULL,
    rollback_reason NVARCHAR(500) NULL,
    user_id VARCHAR(100) NULL,
    source_system VARCHAR(50) NULL DEFAULT ('OPUS_UPDATE_BOARDS'),
    api_response_id VARCHAR(100) NULL,
    error_message NVARCHAR(MAX) NULL
);
CREATE INDEX IX_MON_UpdateAudit_batch_id ON dbo.MON_UpdateAudit (batch_id);
CREATE INDEX IX_MON_UpdateAudit_monday_item_id ON dbo.MON_UpdateAudit (monday_item_id);
CREATE INDEX IX_MON_UpdateAudit_monday_board_id ON dbo.MON_UpdateAudit (monday_board_id);
CREATE INDEX IX_MON_UpdateAudit_update_timestamp ON dbo.MON_UpdateAudit (update_timestamp);
GO

CREATE PROCEDURE dbo.SP_RollbackBatch
    @batch_id VARCHAR(50),
    @rollback_reason NVARCHAR(500)
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    DECLARE @audit_rows INT = 0, @item_rows INT = 0, @subitem_rows INT = 0;

    IF @batch_id IS NULL OR LTRIM(RTRIM(@batch_id)) = ''
        THROW 50010, N'SP_RollbackBatch: @batch_id is required.', 1;
    IF @rollback_reason IS NULL OR LTRIM(RTRIM(@rollback_reason)) = N''
        THROW 50011, N'SP_RollbackBatch: @rollback_reason is required.', 1;

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

    SELECT @batch_id AS batch_id,
           @audit_rows AS audit_rows_rolled_back,
           @item_rows AS item_rows_rolled_back,
           @subitem_rows AS subitem_rows_rolled_back;
END
GO

CREATE VIEW dbo.VW_UpdateOperationSummary
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
