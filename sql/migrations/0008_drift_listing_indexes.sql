-- Drift listings are paged newest first by (detected_at, id) with an optional store, status and age
-- filter; these keep each page and each total an index range scan at any table size, including under
-- a generic plan. `status` rides along so counts can be answered from the index alone.
CREATE INDEX drift_records_listing ON drift_records (detected_at, id) INCLUDE (status);
CREATE INDEX drift_records_store_listing ON drift_records (store_id, detected_at, id) INCLUDE (status);
