"""Reading and writing tables of texts (CSV/TSV, JSONL, Parquet, XLSX) in streaming chunks."""
