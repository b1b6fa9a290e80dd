from . import entry_dates
