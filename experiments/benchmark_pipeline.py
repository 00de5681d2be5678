"""Prints, as JSON, the input pipeline's speed: cold cache building (decode, resample, speech window, log-mel,
write) in recordings per second on 48 kHz 3.7 s WAVs, cached training samples per second on the synthetic set
(shuffled, and P x K batches read from the cache on disk), the cache's size per recording, and the in-graph
log-mel against librosa on the same clips.

    python -m experiments.benchmark_pipeline [--recordings 400] [--subjects 6] [--n-mels 64]
"""

import argparse
import json

from pipelines.features import FeatureConfig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=400, help="48 kHz 3.7 s WAVs to cache (default 400)")
    parser.add_argument("--subjects", type=int, default=6, help="people in the synthetic set (default 6)")
    defaults = FeatureConfig()
    parser.add_argument("--image-size", type=int, default=defaults.image_size[0],
                        help=f"frame size in pixels (default {defaults.image_size[0]})")
    parser.add_argument("--n-mels", type=int, default=defaults.n_mels, help=f"mel bands (default {defaults.n_mels})")
    parser.add_argument("--audio-samples", type=int, default=defaults.audio_samples,
                        help=f"samples per clip (default {defaults.audio_samples})")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--clips", type=int, default=32, help="clips for the log-mel comparison (default 32)")
    args = parser.parse_args(argv)
    from pipelines.speed import pipeline_speed

    features = FeatureConfig(audio_samples=args.audio_samples, n_mels=args.n_mels,
                             image_size=(args.image_size, args.image_size))
    print(json.dumps(pipeline_speed(features, args.recordings, args.subjects, args.batch_size, args.clips), indent=2))


if __name__ == "__main__":
    main()
