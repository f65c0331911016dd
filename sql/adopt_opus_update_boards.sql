-- opus: confirm-required
-- OPUS Update Boards, Phase 0: adopt the objects of an older deployment, so that rollback may remove them.
--
-- A database deployed by the older scripts already has the update columns, MON_UpdateAudit,
-- SP_RollbackBatch and the view. deploy_opus_update_boards.sql finds them and records them in the
-- ledger as "found": not owned, so rollback_opus_update_boards.sql keeps them. Run this script
-- (after deploy) only when those objects are to be treated as this deployment's own: every "found"
-- object becomes "adopted", and the next rollback removes it, backing up its values first as it
-- does for everything it removes. Columns the deploy script does not define (board_id) are never
-- in the ledger and are never adopted.
--
-- It changes no schema object, only the ledger; it needs --confirm because of what it permits.

SET NOCOUNT ON;
SET XACT_ABORT ON;
GO

IF OBJECT_ID(N'dbo.OPUS_DeploymentObject', N'U') IS NULL
    THROW 50040, N'No deployment ledger in this database: run deploy_opus_update_boards.sql first (it records the objects already present as found); nothing was adopted.', 1;
GO

IF NOT EXISTS (SELECT 1 FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID)
    INSERT INTO dbo.OPUS_DeploymentRun (script_name, outcome, login_name, host_name, session_id)
    VALUES (N'adopt_opus_update_boards.sql', 'running', SUSER_SNAME(), HOST_NAME(), @@SPID);
DECLARE @run INT = (SELECT MAX(run_id) FROM dbo.OPUS_DeploymentRun WHERE outcome = 'running' AND session_id = @@SPID);
DECLARE @adopted NVARCHAR(MAX);
DECLARE @count INT;

SELECT @adopted = STRING_AGG(CAST(CONCAT(LOWER(object_type), N' ', schema_name, N'.',
                                         CASE WHEN table_name IS NULL THEN N'' ELSE CONCAT(table_name, N'.') END,
                                         object_name) AS NVARCHAR(MAX)), N'; '),
       @count = COUNT(*)
  FROM dbo.OPUS_DeploymentObject
 WHERE ownership = 'found' AND removed_run_id IS NULL;

UPDATE dbo.OPUS_DeploymentObject SET ownership = 'adopted', adopted_run_id = @run
 WHERE ownership = 'found' AND removed_run_id IS NULL;

IF @count = 0
    PRINT N'Nothing to adopt: the ledger holds no object recorded as found';
ELSE
    PRINT CONCAT(N'Adopted ', @count, N' object(s); rollback_opus_update_boards.sql will now remove them: ', @adopted);

UPDATE dbo.OPUS_DeploymentRun SET outcome = 'committed', finished_utc = SYSUTCDATETIME() WHERE run_id = @run;
GO
