"""The unit browser's site writer (see `keras_zfnet.browse`)."""

from keras_zfnet.plotting.browser.site import check_image_format
from keras_zfnet.plotting.browser.site import check_site_dir
from keras_zfnet.plotting.browser.site import is_site
from keras_zfnet.plotting.browser.site import read_unit
from keras_zfnet.plotting.browser.site import write_site

__all__ = ["check_image_format", "check_site_dir", "is_site", "read_unit", "write_site"]
