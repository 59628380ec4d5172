"""The pyspark.ml stage that adds the concatenated address and its key."""

from __future__ import annotations

import json
from typing import Dict, Optional

from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame

from features.address.columns import with_address


class ConcatAddress(Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """pyspark.ml stage: adds `outputCol` (concat_address) and, if set, `keyCol` (address_key)."""

    __module__ = "features.address"  # the class path saved pipelines record: the package's, not this file's

    parts = Param(Params._dummy(), "parts", "JSON object: address part -> input column", TypeConverters.toString)
    outputCol = Param(Params._dummy(), "outputCol", "output column of the address", TypeConverters.toString)
    keyCol = Param(
        Params._dummy(), "keyCol", "output column of the address key; empty for none", TypeConverters.toString
    )
    abbreviate = Param(Params._dummy(), "abbreviate", "USPS abbreviations", TypeConverters.toBoolean)

    def __init__(
        self,
        parts: Optional[Dict[str, str]] = None,
        outputCol: str = "address",
        keyCol: str = "address_key",
        abbreviate: bool = False,
    ) -> None:
        super().__init__()
        self._setDefault(parts="{}", outputCol="address", keyCol="address_key", abbreviate=False)
        self._set(parts=json.dumps(parts or {}, sort_keys=True), outputCol=outputCol, keyCol=keyCol)
        self._set(abbreviate=abbreviate)

    def getParts(self) -> Dict[str, str]:
        return json.loads(self.getOrDefault(self.parts))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return with_address(
            dataset,
            self.getParts(),
            output_col=self.getOrDefault(self.outputCol),
            key_col=self.getOrDefault(self.keyCol) or None,
            abbreviate=self.getOrDefault(self.abbreviate),
        )
