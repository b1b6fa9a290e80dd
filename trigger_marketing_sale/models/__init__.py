from . import marketing_scenario
from . import sale_order
from . import marketing_scenario_stats
