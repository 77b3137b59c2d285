"""`keras-zfnet diagnose`: the paper's first-layer diagnosis (Fig. 6) of a
user's model."""

from keras_zfnet.cli import inputs
from keras_zfnet.cli import pages


def add_parser(sub):
    parser = pages.add_subcommand(
        sub, "diagnose",
        help="check the first layers for dead / dominant filters, a "
             "frequency gap and aliasing (Fig. 6)",
        description=(
            "Measures the first convolution layer's filters (RMS spread, "
            "dead filters, spectral bands) and, with IMAGES, filters never "
            "active and the aliasing of second-layer projections. Writes "
            "DIR/diagnosis.json (measures and findings), "
            "DIR/findings.csv, DIR/diagnosis.png and DIR/index.html."),
        example="keras-zfnet diagnose model.keras photos/ --output out",
        run=run)
    inputs.add_model_argument(parser)
    inputs.add_images_argument(parser, nargs="?")
    inputs.add_layer_argument(
        parser, help="the convolution to diagnose (default: the first "
                     "Conv2D)")
    inputs.add_common_arguments(parser)


def run(args):
    pages.check_paths(args)
    import keras_zfnet as kz

    model = inputs.load_model_spec(args.model, args.weights)
    layer = (inputs.resolve_layer(model, args.layer)
             if args.layer is not None else None)
    x = None
    if args.images is not None:
        x, _, _ = inputs.model_images(model, args.images, args.preprocess,
                                      args.resize)
    pages.say(args, "diagnosing the first layers")
    diagnosis = kz.diagnose(model, x, layer=layer)
    findings = [dict(kind=f.kind, severity=f.severity, value=f.value,
                     threshold=f.threshold, channels=list(f.channels),
                     message=f.message, recommendation=f.recommendation)
                for f in diagnosis.findings]
    pages.write_json(args, "diagnosis.json", dict(
        layer=diagnosis.layer, second_layer=diagnosis.second_layer,
        measures=diagnosis.measures, findings=findings))
    report = pages.new_page(
        args, f"Diagnosis of {diagnosis.layer}",
        (f"{len(findings)} finding(s)." if findings else
         "No finding: no dead or dominant filter, no frequency gap"
         + (", no aliasing." if x is not None else
            " (aliasing needs IMAGES).")))
    report.figure(diagnosis.plot(), "Filters, their spectra and second-layer "
                  "projections", name="diagnosis.png")
    report.table(["kind", "severity", "value", "threshold", "channels",
                  "recommendation"],
                 [(f["kind"], f["severity"], f"{f['value']:.4g}",
                   f"{f['threshold']:.4g}", len(f["channels"]),
                   f["recommendation"]) for f in findings],
                 "Findings.", name="findings")
    report.table(["measure", "value"],
                 [(k, f"{v:.4g}" if isinstance(v, float) else str(v))
                  for k, v in diagnosis.measures.items()
                  if not hasattr(v, "shape") or getattr(v, "ndim", 1) == 0],
                 "Every measure.", name="measures")
    return pages.finish(args, report,
                        f"{len(findings)} finding(s) on {diagnosis.layer}")
