from . import marketing_scenario
from . import sale_order
