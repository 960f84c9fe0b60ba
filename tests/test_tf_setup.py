"""TensorFlow, imported for input pipelines, says nothing on stderr and sees no GPU; imported to
compute (the Keras peer), it keeps its oneDNN kernels."""

import os
import subprocess
import sys

import pytest

from jaxshadow.data.tf_setup import tensorflow_available

pytestmark = pytest.mark.skipif(not tensorflow_available(),
                                reason="TensorFlow is not installed (pip install -e '.[tf]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(code):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_an_input_pipeline_import_is_silent_and_hides_the_gpus():
    result = run("from jaxshadow.data.tf_setup import import_tensorflow\n"
                 "tf = import_tensorflow()\n"
                 "import tensorflow_datasets\n"
                 "print(tf.config.get_visible_devices('GPU'))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert result.stderr == ""


def test_a_computing_import_leaves_onednn_as_tensorflow_sets_it():
    result = run("import os\n"
                 "from jaxshadow.data.tf_setup import import_tensorflow\n"
                 "import_tensorflow(computes=True)\n"
                 "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
