from . import sale_order
from . import marketing_scenario
from . import marketing_scenario_participant
from . import marketing_scenario_trace
from . import website
from . import res_config_settings
