"""Prints, as JSON, the peak resident memory of one training epoch read from the feature cache, on a synthetic set
of SpeakingFaces' size (3,473 recordings of 75 people, every modality) at the paper's shapes (224 x 224 frames,
589 x 128 log-mel; `--shapes default` for the defaults). The cache (about 0.5 MB a recording at the paper's
shapes) is written to a temporary folder under --cache-dir and removed after.

    python -m experiments.benchmark_memory [--recordings 3473] [--people 75] [--batch-size 32] [--sampler random]
"""

import argparse
import json
import tempfile

from pipelines.epoch_memory import SPEAKINGFACES_PEOPLE, SPEAKINGFACES_RECORDINGS
from pipelines.features import FeatureConfig

SHAPES = {"paper": FeatureConfig.paper, "default": FeatureConfig}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=SPEAKINGFACES_RECORDINGS,
                        help=f"recordings in the synthetic set (default {SPEAKINGFACES_RECORDINGS})")
    parser.add_argument("--people", type=int, default=SPEAKINGFACES_PEOPLE,
                        help=f"people in it (default {SPEAKINGFACES_PEOPLE})")
    parser.add_argument("--shapes", choices=sorted(SHAPES), default="paper", help="feature shapes (default paper)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch (default 32, the paper's)")
    parser.add_argument("--sampler", choices=("random", "pk"), default="random", help="training sampler")
    parser.add_argument("--cache-dir", default=None, help="where the temporary cache goes (default: the system's)")
    args = parser.parse_args(argv)
    from pipelines.epoch_memory import epoch_memory, synthetic_split

    with tempfile.TemporaryDirectory(dir=args.cache_dir) as folder:
        data = synthetic_split(folder, SHAPES[args.shapes](), args.recordings, args.people)
        report = epoch_memory(data, args.batch_size, args.sampler, people_per_batch=min(8, args.people))
    print(json.dumps({"recordings": args.recordings, "people": args.people, "shapes": args.shapes,
                      "batch_size": args.batch_size, "sampler": args.sampler, **report}, indent=2))


if __name__ == "__main__":
    main()
