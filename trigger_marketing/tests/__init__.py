from . import test_smoke
from . import test_mail_branches
from . import test_enrollment
from . import test_actions
from . import test_processing
from . import test_send_window
