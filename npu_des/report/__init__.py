"""Writers: CSV/JSON tables now; Gantt charts and Perfetto traces live beside them."""
