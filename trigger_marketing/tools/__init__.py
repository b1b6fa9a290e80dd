from . import domains
from . import entry_dates
from . import trace_results
from . import contacts
from . import company_language
from . import experiments
from . import send_time
