"""An instruct-style GGUF made from the shipped one: the same weights, plus ``tokenizer.chat_template``.

The shipped gemma 3 270M is a base model without a chat template; users bring instruct models that
have one. Copying the file with the ``gguf`` library and adding a template in gemma's turn format
gives the hub a real GGUF whose metadata takes the chat path, without downloading anything.
"""

from __future__ import annotations

from pathlib import Path

GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
"""Gemma's turn format; the system message becomes a user turn, as gemma's own template does."""


def with_chat_template(source: Path, target: Path, template: str = GEMMA_TEMPLATE) -> Path:
    """Write ``target``: ``source``'s metadata and tensors, with ``template`` as its chat template."""
    import gguf

    reader = gguf.GGUFReader(source)
    arch_field = reader.fields[gguf.Keys.General.ARCHITECTURE]
    writer = gguf.GGUFWriter(target, arch=str(arch_field.contents()), endianess=reader.endianess)
    for field in reader.fields.values():
        # The writer adds the architecture and the GGUF.* header fields itself.
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name == gguf.Keys.Tokenizer.CHAT_TEMPLATE:
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    writer.add_chat_template(template)
    for tensor in reader.tensors:
        writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes,
                               tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()
    return target
