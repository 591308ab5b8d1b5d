import numpy as np

from core.data.describe import category_table, norm_summary, vector_norms
from figures.data import category_bar, norm_histogram


def test_category_bar_draws_the_largest_on_top():
    table = category_table(["a", "b", "b", "c", "c", "c"])
    assert table["items"].tolist() == [3, 2, 1]
    fig = category_bar(table, top=2)
    assert list(fig.data[0].y) == ["b", "c"] and list(fig.data[0].x) == [2, 3]


def test_norms_of_unit_rows_are_reported_as_unit():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    norms = vector_norms(x)
    assert norms.tolist() == [5.0, 0.0]
    s = norm_summary(norms)
    assert s["zero"] == 1 and not s["unit"] and s["max"] == 5.0
    assert norm_histogram(norms).data[0].x.tolist() == [5.0, 0.0]
