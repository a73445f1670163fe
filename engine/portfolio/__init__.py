"""The trading half of the loop: benchmark, signal layers, regime, sizing, HRP overlay, paper broker,
checks, risk measures, the Monte-Carlo return models and the historical stress test.

Modules here are small numeric kernels and store helpers; the loop stages that call
them live in `engine.stages.{broker_fill,signals,portfolio,risk}`.
"""
