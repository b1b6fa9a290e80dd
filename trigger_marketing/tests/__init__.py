from . import test_smoke
from . import test_mail_branches
from . import test_score_rules
from . import test_score_bands
from . import test_score_threshold
from . import test_score_decay
from . import test_score_performance
from . import test_templates
