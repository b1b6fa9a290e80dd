from . import test_sale_scoring
