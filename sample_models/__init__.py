"""Sample PyTorch models and their ONNX exports, used as test fixtures for onnxlint.

``drln`` holds an own implementation of DRLN (Anwar & Barnes, TPAMI 2020) and its
"Laplacian" attention layer; ``blocks`` holds small comparison models (RCAN and ECA
attention, a plain conv stack, a DeepLab-style ASPP head). ``export`` turns any of them
into an ONNX file with either PyTorch exporter; ``build`` regenerates the committed samples.
"""
