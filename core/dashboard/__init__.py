"""What the dashboard's pages read, as plain data (no Streamlit here): every model the user can
look at, their scores, curves and class reports (catalog), a training run as the Train page shows
it (training), a timeline's epoch as the Timeline page shows it (epoch_view), mixture-prior edits
(mixture_editor) and background launches (launch)."""
