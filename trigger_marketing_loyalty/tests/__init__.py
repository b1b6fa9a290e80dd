from . import test_coupon
