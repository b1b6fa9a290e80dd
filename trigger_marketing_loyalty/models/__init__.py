from . import loyalty_card
from . import marketing_scenario_step
from . import marketing_scenario_templates
