"""A job's result folder: the one place that knows its file names and reads them back as typed values."""
