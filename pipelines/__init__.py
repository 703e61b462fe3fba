"""The ETL stages: pure stroke and text transforms, and the build runner."""
