import keras
import numpy as np

from keras_zfnet.constraints import FilterRMS
from keras_zfnet.layers import LocalResponseNormalization
from keras_zfnet.layers import MaxPoolingWithSwitches2D
from keras_zfnet.layers import MaxUnpooling2D


def test_saved_model_with_every_custom_object_loads_without_custom_objects(
    tmp_path,
):
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(
        6, 3, padding="same", activation="relu",
        kernel_constraint=FilterRMS(0.1),
    )(inputs)
    x = LocalResponseNormalization(depth_radius=1)(x)
    pooled, switches = MaxPoolingWithSwitches2D(
        3, 2, padding="same", return_switches=True
    )(x)
    x = MaxUnpooling2D(output_size=(12, 12))([pooled, switches])
    x = MaxPoolingWithSwitches2D(2)(x)
    model = keras.Model(inputs, x)
    data = np.random.normal(size=(2, 12, 12, 3)).astype("float32")
    expected = model.predict(data, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), expected,
                               rtol=1e-6)
    assert isinstance(loaded.layers[1].kernel_constraint, FilterRMS)
