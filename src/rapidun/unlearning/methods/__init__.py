"""Unlearning methods: one file each, one entry each in :data:`rapidun.unlearning.registry.METHODS`.

A method file holds its parameters dataclass and one ``METHOD`` value (a :class:`~rapidun.unlearning.kinds.GradientMethod`,
:class:`~rapidun.unlearning.kinds.EditMethod` or :class:`~rapidun.unlearning.kinds.RetrainMethod`); the training
loop, objective, sampling and outputs they share live one level up, in the unlearning engine.
"""
