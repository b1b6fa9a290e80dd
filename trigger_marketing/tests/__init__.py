from . import test_smoke
from . import test_mail_branches
from . import test_trigger_anniversary
from . import test_trigger_date
from . import test_trigger_event
from . import test_trigger_settings
from . import test_trigger_signup
