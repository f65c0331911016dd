-- OPUS Update Boards, Phase 0: validate the deployment (the DBA's own check, runnable in SSMS).
--
-- Returns one result set: check_name, passed (1/0), detail. When any check fails it raises error
-- 50001 after the result set, so sqlcmd -b, opus-sql and CI all see a non-zero exit status.
-- It changes nothing in the database (its work table is a #temp table).

SET NOCOUNT ON;

CREATE TABLE #opus_checks (
    check_order INT NOT NULL,
    check_name NVARCHAR(300) NOT NULL,
    passed BIT NOT NULL,
    detail NVARCHAR(1000) NULL
);

-- 1. The 7 update columns on both staging tables, with their types and defaults --------------------
INSERT INTO #opus_checks (check_order, check_name, passed, detail)
SELECT 100 + e.ord,
       CONCAT(N'column dbo.', e.table_name, N'.', e.column_name, N' ', e.type_text),
       CASE WHEN c.COLUMN_NAME IS NOT NULL AND c.DATA_TYPE = e.data_type
                 AND ISNULL(c.CHARACTER_MAXIMUM_LENGTH, 0) = e.max_length AND c.IS_NULLABLE = 'YES'
                 AND (e.default_text IS NULL OR c.COLUMN_DEFAULT LIKE CONCAT(N'%', e.default_text, N'%'))
            THEN 1 ELSE 0 END,
       CASE WHEN c.COLUMN_NAME IS NULL THEN N'missing'
            ELSE CONCAT(N'found ', c.DATA_TYPE, N'(', CASE WHEN c.CHARACTER_MAXIMUM_LENGTH = -1 THEN N'max'
                        ELSE CAST(c.CHARACTER_MAXIMUM_LENGTH AS NVARCHAR(20)) END, N')',
                        CASE WHEN c.IS_NULLABLE = 'YES' THEN N' NULL' ELSE N' NOT NULL' END,
                        CASE WHEN c.COLUMN_DEFAULT IS NULL THEN N'' ELSE CONCAT(N' DEFAULT ', c.COLUMN_DEFAULT) END)
       END
FROM (
    SELECT 1 AS ord, N'STG_MON_CustMasterSchedule' AS table_name, N'update_operation' AS column_name,
           N'varchar(50)' AS type_text, N'varchar' AS data_type, 50 AS max_length, N'CREATE' AS default_text
    UNION ALL SELECT 2, N'STG_MON_CustMasterSchedule', N'update_fields', N'nvarchar(max)', N'nvarchar', -1, NULL
    UNION ALL SELECT 3, N'STG_MON_CustMasterSchedule', N'source_table', N'varchar(100)', N'varchar', 100, NULL
    UNION ALL SELECT 4, N'STG_MON_CustMasterSchedule', N'source_query', N'nvarchar(max)', N'nvarchar', -1, NULL
    UNION ALL SELECT 5, N'STG_MON_CustMasterSchedule', N'update_batch_id', N'varchar(50)', N'varchar', 50, NULL
    UNION ALL SELECT 6, N'STG_MON_CustMasterSchedule', N'validation_status', N'varchar(20)', N'varchar', 20,
                     N'PENDING'
    UNION ALL SELECT 7, N'STG_MON_CustMasterSchedule', N'validation_errors', N'nvarchar(max)', N'nvarchar', -1, NULL
    UNION ALL SELECT 8, N'STG_MON_CustMasterSchedule_Subitems', N'update_operation', N'varchar(50)', N'varchar',
                     50, N'CREATE'
    UNION ALL SELECT 9, N'STG_MON_CustMasterSchedule_Subitems', N'update_fields', N'nvarchar(max)', N'nvarchar',
                     -1, NULL
    UNION ALL SELECT 10, N'STG_MON_CustMasterSchedule_Subitems', N'source_table', N'varchar(100)', N'varchar',
                     100, NULL
    UNION ALL SELECT 11, N'STG_MON_CustMasterSchedule_Subitems', N'source_query', N'nvarchar(max)', N'nvarchar',
                     -1, NULL
    UNION ALL SELECT 12, N'STG_MON_CustMasterSchedule_Subitems', N'update_batch_id', N'varchar(50)', N'varchar',
                     50, NULL
    UNION ALL SELECT 13, N'STG_MON_CustMasterSchedule_Subitems', N'validation_status', N'varchar(20)', N'varchar',
                     20, N'PENDING'
    UNION ALL SELECT 14, N'STG_MON_CustMasterSchedule_Subitems', N'validation_errors', N'nvarchar(max)',
                     N'nvarchar', -1, NULL
) AS e
LEFT JOIN INFORMATION_SCHEMA.COLUMNS AS c
       ON c.TABLE_SCHEMA = N'dbo' AND c.TABLE_NAME = e.table_name AND c.COLUMN_NAME = e.column_name;

-- 2. The objects deploy creates ------------------------------------------------------------------------
INSERT INTO #opus_checks (check_order, check_name, passed, detail)
SELECT 200 + o.ord,
       CONCAT(o.kind, N' dbo.', o.object_name),
       CASE WHEN so.name IS NOT NULL THEN 1 ELSE 0 END,
       CASE WHEN so.name IS NOT NULL THEN N'present' ELSE N'missing' END
FROM (
    SELECT 1 AS ord, N'table' AS kind, N'MON_UpdateAudit' AS object_name, N'U' AS type_code
    UNION ALL SELECT 2, N'procedure', N'SP_RollbackBatch', N'P'
    UNION ALL SELECT 3, N'view', N'VW_UpdateOperationSummary', N'V'
) AS o
LEFT JOIN sys.objects AS so
       ON so.schema_id = SCHEMA_ID(N'dbo') AND so.name = o.object_name AND so.type = o.type_code;

-- 3. MON_UpdateAudit: its 15 columns in order, key and indexes -------------------------------------------
INSERT INTO #opus_checks (check_order, check_name, passed, detail)
SELECT 300 + e.ord,
       CONCAT(N'column dbo.MON_UpdateAudit.', e.column_name, N' ', e.type_text),
       CASE WHEN c.COLUMN_NAME IS NOT NULL AND c.DATA_TYPE = e.data_type
                 AND ISNULL(c.CHARACTER_MAXIMUM_LENGTH, 0) = e.max_length AND c.position = e.ord
                 AND c.IS_NULLABLE = e.nullable THEN 1 ELSE 0 END,
       CASE WHEN c.COLUMN_NAME IS NULL THEN N'missing'
            ELSE CONCAT(N'found ', c.DATA_TYPE, N' at position ', c.position,
                        CASE WHEN c.IS_NULLABLE = 'YES' THEN N' NULL' ELSE N' NOT NULL' END) END
FROM (
    SELECT 1 AS ord, N'audit_id' AS column_name, N'int identity' AS type_text, N'int' AS data_type,
           0 AS max_length, 'NO' AS nullable
    UNION ALL SELECT 2, N'batch_id', N'varchar(50) not null', N'varchar', 50, 'NO'
    UNION ALL SELECT 3, N'update_operation', N'varchar(50) not null', N'varchar', 50, 'NO'
    UNION ALL SELECT 4, N'monday_item_id', N'bigint', N'bigint', 0, 'YES'
    UNION ALL SELECT 5, N'monday_board_id', N'bigint', N'bigint', 0, 'YES'
    UNION ALL SELECT 6, N'column_id', N'varchar(100)', N'varchar', 100, 'YES'
    UNION ALL SELECT 7, N'old_value', N'nvarchar(max)', N'nvarchar', -1, 'YES'
    UNION ALL SELECT 8, N'new_value', N'nvarchar(max)', N'nvarchar', -1, 'YES'
    UNION ALL SELECT 9, N'update_timestamp', N'datetime2', N'datetime2', 0, 'YES'
    UNION ALL SELECT 10, N'rollback_timestamp', N'datetime2', N'datetime2', 0, 'YES'
    UNION ALL SELECT 11, N'rollback_reason', N'nvarchar(500)', N'nvarchar', 500, 'YES'
    UNION ALL SELECT 12, N'user_id', N'varchar(100)', N'varchar', 100, 'YES'
    UNION ALL SELECT 13, N'source_system', N'varchar(50)', N'varchar', 50, 'YES'
    UNION ALL SELECT 14, N'api_response_id', N'varchar(100)', N'varchar', 100, 'YES'
    UNION ALL SELECT 15, N'error_message', N'nvarchar(max)', N'nvarchar', -1, 'YES'
) AS e
LEFT JOIN (
    -- the position among the table's current columns: ORDINAL_POSITION is SQL Server's column_id,
    -- which keeps the gap a dropped column leaves, so a table rebuilt in place would fail by it
    SELECT col.COLUMN_NAME, col.DATA_TYPE, col.CHARACTER_MAXIMUM_LENGTH, col.IS_NULLABLE,
           (SELECT COUNT(*) FROM INFORMATION_SCHEMA.COLUMNS AS earlier
             WHERE earlier.TABLE_SCHEMA = col.TABLE_SCHEMA AND earlier.TABLE_NAME = col.TABLE_NAME
               AND earlier.ORDINAL_POSITION <= col.ORDINAL_POSITION) AS position
      FROM INFORMATION_SCHEMA.COLUMNS AS col
     WHERE col.TABLE_SCHEMA = N'dbo' AND col.TABLE_NAME = N'MON_UpdateAudit'
) AS c ON c.COLUMN_NAME = e.column_name;

-- An index counts by what it indexes (one key column, the same uniqueness), whatever its name: the
-- older scripts named the same indexes differently (IX_MON_UpdateAudit_BatchId).
SELECT i.name AS index_name, c.name AS column_name, CAST(i.is_primary_key AS INT) AS is_primary_key,
       CAST(i.is_unique AS INT) AS is_unique
  INTO #opus_audit_indexes
  FROM sys.indexes AS i
  JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal = 1
  JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE i.object_id = OBJECT_ID(N'dbo.MON_UpdateAudit')
   AND NOT EXISTS (SELECT 1 FROM sys.index_columns AS k
                    WHERE k.object_id = i.object_id AND k.index_id = i.index_id AND k.key_ordinal = 2);

INSERT INTO #opus_checks (check_order, check_name, passed, detail)
SELECT 400 + e.ord,
       CONCAT(N'index ', e.index_name),
       CASE WHEN m.index_name IS NOT NULL THEN 1 ELSE 0 END,
       CASE WHEN m.index_name IS NULL THEN CONCAT(N'missing: no index on (', e.column_name, N')')
            WHEN m.index_name = e.index_name THEN N'present'
            ELSE CONCAT(N'present as ', m.index_name, N' (same column)') END
FROM (
    SELECT 1 AS ord, N'PK_MON_UpdateAudit' AS index_name, N'audit_id' AS column_name, 1 AS is_primary_key
    UNION ALL SELECT 2, N'IX_MON_UpdateAudit_batch_id', N'batch_id', 0
    UNION ALL SELECT 3, N'IX_MON_UpdateAudit_monday_item_id', N'monday_item_id', 0
    UNION ALL SELECT 4, N'IX_MON_UpdateAudit_monday_board_id', N'monday_board_id', 0
    UNION ALL SELECT 5, N'IX_MON_UpdateAudit_update_timestamp', N'update_timestamp', 0
) AS e
LEFT JOIN (
    -- the index of that meaning: the expected name if it has it, else the first other name (first by
    -- code point: the same answer under any collation)
    SELECT x.column_name, x.is_primary_key,
           COALESCE(MAX(CASE WHEN x.index_name IN (N'PK_MON_UpdateAudit', N'IX_MON_UpdateAudit_batch_id',
                                                   N'IX_MON_UpdateAudit_monday_item_id',
                                                   N'IX_MON_UpdateAudit_monday_board_id',
                                                   N'IX_MON_UpdateAudit_update_timestamp')
                             THEN x.index_name END), MIN(x.index_name COLLATE Latin1_General_BIN2)) AS index_name
      FROM #opus_audit_indexes AS x
     WHERE x.is_primary_key = 1 OR x.is_unique = 0
     GROUP BY x.column_name, x.is_primary_key
) AS m ON m.column_name = e.column_name AND m.is_primary_key = e.is_primary_key;
DROP TABLE #opus_audit_indexes;

-- 4. The view's columns and the procedure's parameters ----------------------------------------------------
INSERT INTO #opus_checks (check_order, check_name, passed, detail)
SELECT 500 + e.ord,
       CONCAT(N'view column VW_UpdateOperationSummary.', e.column_name),
       CASE WHEN c.position = e.ord THEN 1 ELSE 0 END,
       CASE WHEN c.COLUMN_NAME IS NULL THEN N'missing' ELSE CONCAT(N'at position ', c.position) END
FROM (
    SELECT 1 AS ord, N'batch_id' AS column_name
    UNION ALL SELECT 2, N'update_operation'
    UNION ALL SELECT 3, N'monday_board_id'
    UNION ALL SELECT 4, N'total_updates'
    UNION ALL SELECT 5, N'active_updates'
    UNION ALL SELECT 6, N'rolled_back_updates'
    UNION ALL SELECT 7, N'batch_start_time'
    UNION ALL SELECT 8, N'batch_end_time'
    UNION ALL SELECT 9, N'error_count'
) AS e
LEFT JOIN (
    -- the position among the table's current columns: ORDINAL_POSITION is SQL Server's column_id,
    -- which keeps the gap a dropped column leaves, so a table rebuilt in place would fail by it
    SELECT col.COLUMN_NAME, col.DATA_TYPE, col.CHARACTER_MAXIMUM_LENGTH, col.IS_NULLABLE,
           (SELECT COUNT(*) FROM INFORMATION_SCHEMA.COLUMNS AS earlier
             WHERE earlier.TABLE_SCHEMA = col.TABLE_SCHEMA AND earlier.TABLE_NAME = col.TABLE_NAME
               AND earlier.ORDINAL_POSITION <= col.ORDINAL_POSITION) AS position
      FROM INFORMATION_SCHEMA.COLUMNS AS col
     WHERE col.TABLE_SCHEMA = N'dbo' AND col.TABLE_NAME = N'VW_UpdateOperationSummary'
) AS c ON c.COLUMN_NAME = e.column_name;

INSERT INTO #opus_checks (check_order, check_name, passed, detail)
SELECT 600 + e.ord,
       CONCAT(N'parameter SP_RollbackBatch ', e.parameter_name, N' ', e.type_text),
       CASE WHEN p.PARAMETER_NAME IS NOT NULL AND p.DATA_TYPE = e.data_type
                 AND p.CHARACTER_MAXIMUM_LENGTH = e.max_length THEN 1 ELSE 0 END,
       CASE WHEN p.PARAMETER_NAME IS NULL THEN N'missing'
            ELSE CONCAT(N'found ', p.DATA_TYPE, N'(', p.CHARACTER_MAXIMUM_LENGTH, N')') END
FROM (
    SELECT 1 AS ord, N'@batch_id' AS parameter_name, N'varchar(50)' AS type_text, N'varchar' AS data_type,
           50 AS max_length
    UNION ALL SELECT 2, N'@rollback_reason', N'nvarchar(500)', N'nvarchar', 500
) AS e
LEFT JOIN INFORMATION_SCHEMA.PARAMETERS AS p
       ON p.SPECIFIC_SCHEMA = N'dbo' AND p.SPECIFIC_NAME = N'SP_RollbackBatch' AND p.PARAMETER_NAME = e.parameter_name;

-- 5. The result, and an error the caller cannot miss -------------------------------------------------------
SELECT check_name, passed, detail FROM #opus_checks ORDER BY check_order;

DECLARE @total INT = (SELECT COUNT(*) FROM #opus_checks);
DECLARE @failed INT = (SELECT COUNT(*) FROM #opus_checks WHERE passed = 0);
DECLARE @message NVARCHAR(400);
DROP TABLE #opus_checks;

IF @failed > 0
BEGIN
    SET @message = CONCAT(N'validate_ddl_changes: ', @failed, N' of ', @total, N' checks failed');
    THROW 50001, @message, 1;
END

PRINT CONCAT(N'validate_ddl_changes: all ', @total, N' checks passed');
