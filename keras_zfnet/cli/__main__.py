import sys

from keras_zfnet.cli import main

sys.exit(main())
