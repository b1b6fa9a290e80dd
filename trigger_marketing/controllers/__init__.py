from . import main
from . import mass_mailing
