import HTTPTypes

extension HTTPFields {
    /// The value of the field `name` as `self[name]` gives it, repeated fields joined, found by a scan of the fields.
    ///
    /// `self[name]` builds an index of every field's name the first time a request's fields are asked for one, and
    /// joins the values it finds into a new string even when there is one. A request is asked for two or three fields
    /// on its way to the box, out of a handful.
    func value(of name: HTTPField.Name) -> String? {
        var value: String?
        for field in self where field.name == name {
            value = value.map { "\($0)\(name == .cookie ? "; " : ", ")\(field.value)" } ?? field.value
        }
        return value
    }
}
