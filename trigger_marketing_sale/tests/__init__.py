from . import test_sale_scoring
from . import test_sale_goal
