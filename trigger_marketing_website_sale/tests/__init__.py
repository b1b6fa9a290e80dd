from . import test_cart_intake
from . import test_cart_goal
from . import test_recovery_mail
from . import test_cart_template
from . import test_cart_score
from . import test_realtime_overhead
from . import test_revenue_bridges
