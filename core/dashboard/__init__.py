"""What the dashboard's pages read, as plain data (no Streamlit here): every model the user can
look at, their scores, curves and class reports."""
