//! The stream record the readers' tests start from: every field Lambda's event type knows,
//! every kind of attribute value, and fields it does not know, at several depths.

use serde_json::{Value, json};

#[cfg(test)]
pub(crate) fn stream_record() -> Value {
    json!({
        "eventID": "e-1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:1:table/ledger/stream/x",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com", "other": [1]},
        "recordFormat": "application/json",
        "tableName": "ledger",
        "dynamodb": {
            "ApproximateCreationDateTime": 1763690400.5,
            "Keys": {"pk": {"S": "ACCOUNT#a"}, "sk": {"S": "TXN#1"}},
            "NewImage": {
                "pk": {"S": "ACCOUNT#a"}, "n": {"N": "1"}, "b": {"B": "AAEC"}, "bs": {"BS": ["AA=="]},
                "m": {"M": {"x": {"L": [{"BOOL": true}, {"NULL": true}, {"SS": ["a"]}, {"NS": ["1"]}]}}}
            },
            "OldImage": null,
            "SequenceNumber": "100",
            "SizeBytes": 12,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "extra": {"deep": [[[{}]]]}
        }
    })
}
