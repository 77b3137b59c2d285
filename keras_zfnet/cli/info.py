"""`keras-zfnet info`: version, models and presets."""


def add_parser(sub):
    parser = sub.add_parser("info", help="print the version, models, presets")
    parser.set_defaults(run=run)


def run(args):
    from keras_zfnet import applications
    from keras_zfnet.applications import presets
    from keras_zfnet.version import __version__

    import keras

    print(f"keras-zfnet {__version__} (Keras {keras.__version__}, backend "
          f"{keras.config.backend()})")
    print()
    print(f"{'model':<12} {'input':<12} {'params':>12}  presets")
    for name, builder in (
        ("ZFNet", applications.ZFNet),
        ("AlexNet", applications.AlexNet),
        ("MiniZFNet", applications.MiniZFNet),
    ):
        model = builder()
        shape = "x".join(str(d) for d in model.input_shape[1:])
        available = ", ".join(presets.available_presets(name)) or "-"
        print(f"{name:<12} {shape:<12} {model.count_params():>12,}  "
              f"{available}")
    rows = [p for p in presets.PRESETS.values()
            if p["name"] in presets.available_presets()]
    if rows:
        print()
        print(f"{'preset':<24} {'model':<10} {'test accuracy':>14}  sha256")
        for p in rows:
            accuracy = p.get("test_accuracy")
            shown = f"{accuracy:.2%}" if accuracy is not None else "-"
            print(f"{p['name']:<24} {p['architecture']:<10} {shown:>14}  "
                  f"{p['sha256'][:16]}...")
    return 0
