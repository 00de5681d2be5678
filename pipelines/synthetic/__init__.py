"""The built-in synthetic data sets, apart from the readers of real data: a SpeakingFaces layout (`speakingfaces`)
and a RAVDESS layout (`ravdess`), drawn with the voice (`voice`) and face and heat (`images`) generators."""

from pipelines.synthetic import ravdess, speakingfaces

# The built-in synthetic sets, by layout: their generator modules (generator_fingerprint; THERMAL_PALETTE, the
# palette their thermal frames are written with).
SYNTHETIC_SETS = {"speakingfaces": speakingfaces, "ravdess": ravdess}
