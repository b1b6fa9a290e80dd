from . import mail_compose_message
from . import marketing_scenario_enroll
from . import marketing_scenario_test
from . import marketing_scenario_template_wizard
from . import marketing_scenario_live_edit
